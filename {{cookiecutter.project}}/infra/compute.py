"""EC2: the Airflow host; the SSM session document that logs sessions; the EventBridge rule
that restarts Airflow when a secret it uses rotates.

The host: Ubuntu 24.04 by default, IMDSv2 only, encrypted disk, no inbound ports, with
termination protection while `protect` is on. Its user data writes /etc/<project>/airflow.env
and runs infra/deploy.sh.
"""

from __future__ import annotations

import json
import time

from botocore.exceptions import ClientError

from .identity import RUN_SHELL, host_secrets
from .plan import Plan
from .steps import Step, get, tag_dict

RESTART = "systemctl try-restart 'airflow-*.service'"
LIVE = ["pending", "running", "stopping", "stopped"]


def rotation_pattern(plan: Plan, partition: str = "aws") -> dict:
    """Secrets Manager's event after a rotation of one of the host's secrets."""
    arn = f"arn:{partition}:secretsmanager:{plan.region}:{plan.account}:secret:"
    return {
        "source": ["aws.secretsmanager"],
        "detail-type": ["AWS Service Event via CloudTrail"],
        "detail": {
            "eventName": ["RotationSucceeded"],
            "additionalEventData": {"SecretId": [{"prefix": f"{arn}{name}-"} for name in host_secrets(plan)]},
        },
    }


class Compute:
    def __init__(self, plan: Plan, session, group_id, wait: bool = True):
        self.plan, self.group_id, self.wait = plan, group_id, wait
        self.ec2, self.ssm, self.events = (session.client(n) for n in ("ec2", "ssm", "events"))
        self.partition = session.get_partition_for_region(plan.region)

    def steps(self) -> list[Step]:
        p = self.plan
        return [
            Step(
                "ssm document",
                p.session_document,
                lambda: get(self.ssm.describe_document, "Document", Name=p.session_document),
                self.create_document,
                tags=lambda found: tag_dict(found.get("Tags")),
                delete=self.delete_document,
            ),
            self.instance_step(),
            Step(
                "events rule",
                p.restarter,
                lambda: get(self.events.describe_rule, Name=p.restarter),
                self.put_rule,
                tags=lambda found: tag_dict(
                    self.events.list_tags_for_resource(ResourceARN=found["Arn"])["Tags"]
                ),
                delete=self.delete_rule,
                drift=self.rule_drift,
                fix=lambda found: self.put_rule(),
            ),
        ]

    def instance_step(self) -> Step:
        return Step(
            "ec2 instance",
            self.plan.host,
            self.find_instance,
            self.create_instance,
            tags=lambda found: tag_dict(found.get("Tags")),
            delete=self.delete_instance,
            drift=self.drift,
            fix=self.fix,
            protected=self.termination_protected,
        )

    # Session logs -----------------------------------------------------------------------
    def session_preferences(self) -> dict:
        return {
            "schemaVersion": "1.0",
            "description": f"Shell on {self.plan.host}, logged to s3://{self.plan.log_bucket}/ssm-sessions/",
            "sessionType": "Standard_Stream",
            "inputs": {
                "s3BucketName": self.plan.log_bucket,
                "s3KeyPrefix": "ssm-sessions/",
                "s3EncryptionEnabled": True,
                "runAsEnabled": False,
                "idleSessionTimeout": "20",
            },
        }

    def create_document(self) -> None:
        self.ssm.create_document(
            Name=self.plan.session_document,
            DocumentType="Session",
            DocumentFormat="JSON",
            Content=json.dumps(self.session_preferences()),
            Tags=self.plan.tags(self.plan.session_document),
        )

    def delete_document(self, found: dict) -> str:
        self.ssm.delete_document(Name=self.plan.session_document)
        return "deleted"

    # The host -----------------------------------------------------------------------------
    def find_instance(self) -> dict | None:
        reservations = self.ec2.describe_instances(
            Filters=[
                {"Name": "tag:Name", "Values": [self.plan.host]},
                {"Name": "instance-state-name", "Values": LIVE},
            ]
        )["Reservations"]
        instances = [i for r in reservations for i in r["Instances"]]
        return instances[0] if instances else None

    def create_instance(self) -> None:
        p = self.plan
        image = p.ami_id or self.ssm.get_parameter(Name=p.ami_parameter)["Parameter"]["Value"]
        root = self.ec2.describe_images(ImageIds=[image])["Images"][0]["RootDeviceName"]
        options = {"SubnetId": p.subnet_id} if p.subnet_id else {}
        request = dict(
            ImageId=image,
            InstanceType=p.instance_type,
            MinCount=1,
            MaxCount=1,
            IamInstanceProfile={"Name": p.host},
            SecurityGroupIds=[self.group_id(p.host)],
            UserData=p.user_data(),
            DisableApiTermination=p.protect,
            MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
            BlockDeviceMappings=[
                {
                    "DeviceName": root,
                    "Ebs": {
                        "VolumeSize": 30,
                        "VolumeType": "gp3",
                        "Encrypted": True,
                        "DeleteOnTermination": True,
                    },
                }
            ],
            TagSpecifications=[
                {"ResourceType": kind, "Tags": p.tags(p.host)} for kind in ("instance", "volume")
            ],
            **options,
        )
        for attempt in range(12):  # a new instance profile takes a few seconds to reach EC2
            try:
                self.ec2.run_instances(**request)
                return
            except ClientError as exc:
                if "iamInstanceProfile" not in str(exc) or attempt == 11:
                    raise
                time.sleep(5)

    def termination_protected(self, instance: dict) -> bool:
        attribute = self.ec2.describe_instance_attribute(
            InstanceId=instance["InstanceId"], Attribute="disableApiTermination"
        )
        return attribute["DisableApiTermination"]["Value"]

    def drift(self, instance: dict) -> list[str]:
        found = []
        if instance.get("MetadataOptions", {}).get("HttpTokens") != "required":
            found.append("IMDSv1 allowed")
        if self.termination_protected(instance) != self.plan.protect:
            found.append(
                f"termination protection {'off' if self.plan.protect else 'on'} (protect is {self.plan.protect})"
            )
        return found

    def fix(self, instance: dict) -> None:
        self.ec2.modify_instance_metadata_options(
            InstanceId=instance["InstanceId"], HttpTokens="required", HttpEndpoint="enabled"
        )
        self.ec2.modify_instance_attribute(
            InstanceId=instance["InstanceId"], DisableApiTermination={"Value": self.plan.protect}
        )

    def delete_instance(self, instance: dict) -> str:
        instance_id = instance["InstanceId"]
        self.ec2.terminate_instances(InstanceIds=[instance_id])
        if self.wait:
            self.ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance_id])
        return f"deleted ({instance_id})"

    # Restart on rotation ----------------------------------------------------------------
    def target(self) -> dict:
        p = self.plan
        return {
            "Id": "restart-airflow",
            "Arn": f"arn:{self.partition}:ssm:{p.region}::document/{RUN_SHELL}",
            "RoleArn": f"arn:{self.partition}:iam::{p.account}:role/{p.restarter}",
            "Input": json.dumps({"commands": [RESTART]}),
            "RunCommandParameters": {"RunCommandTargets": [{"Key": "tag:Name", "Values": [p.host]}]},
        }

    def put_rule(self) -> None:
        p = self.plan
        self.events.put_rule(
            Name=p.restarter,
            EventPattern=json.dumps(rotation_pattern(p, self.partition)),
            State="ENABLED",
            Description=f"Restart Airflow on {p.host} when a secret it reads rotates",
            Tags=p.tags(p.restarter),
        )
        self.events.put_targets(Rule=p.restarter, Targets=[self.target()])

    def rule_drift(self, rule: dict) -> list[str]:
        found = []
        if json.loads(rule.get("EventPattern", "{}")) != rotation_pattern(self.plan, self.partition):
            found.append("event pattern differs")
        if rule.get("State") != "ENABLED":
            found.append("rule disabled")
        if self.events.list_targets_by_rule(Rule=self.plan.restarter)["Targets"] != [self.target()]:
            found.append("targets differ")
        return found

    def delete_rule(self, rule: dict) -> str:
        targets = self.events.list_targets_by_rule(Rule=self.plan.restarter)["Targets"]
        if targets:
            self.events.remove_targets(Rule=self.plan.restarter, Ids=[t["Id"] for t in targets])
        self.events.delete_rule(Name=self.plan.restarter)
        return "deleted"
