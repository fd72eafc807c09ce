"""IAM: the host's role, its one inline policy and instance profile; the role EventBridge
uses to restart Airflow when a secret rotates.

The host policy names each bucket prefix, database, secret and cache it needs, all in
this account (s3:ResourceAccount), and the few actions the SSM agent needs for Session
Manager and Run Command, not AmazonSSMManagedInstanceCore, which also allows reading
every SSM parameter in the account.
"""

from __future__ import annotations

import json

from .plan import HOST_LOGINS, Plan
from .steps import Step, get, tag_dict

SSM_AGENT = [
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage",
    "ec2messages:DeleteMessage",
    "ec2messages:FailMessage",
    "ec2messages:GetEndpoint",
    "ec2messages:GetMessages",
    "ec2messages:SendReply",
]
RUN_SHELL = "AWS-RunShellScript"


def trust(service: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}}],
    }


def host_secrets(plan: Plan) -> list[str]:
    """The secrets the host reads: its logins and Airflow's keys; never the master user's."""
    names = [f"login-{login}" for login in HOST_LOGINS] + ["airflow-keys"]
    return [plan.secret(name) for name in names + (["broker-auth"] if plan.celery else [])]


def host_policy(plan: Plan, partition: str = "aws") -> dict:
    """The host's inline policy: this project's resources in this account, nothing else."""
    arn = f"arn:{partition}:s3:::{plan.bucket}"
    logs = f"arn:{partition}:s3:::{plan.log_bucket}"
    region_account = f"{plan.region}:{plan.account}"
    ours = {"StringEquals": {"s3:ResourceAccount": plan.account}}

    def allow(sid: str, actions: list[str], resources, condition: dict | None = None) -> dict:
        statement = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
        return {**statement, "Condition": condition} if condition else statement

    statements = [
        allow("DataBucket", ["s3:ListBucket", "s3:GetBucketLocation"], arn, ours),
        allow("ReadReleases", ["s3:GetObject", "s3:GetObjectVersion"], f"{arn}/releases/*", ours),
        allow("ReadSources", ["s3:GetObject"], f"{arn}/incoming/*", ours),
        allow("Artifacts", ["s3:GetObject", "s3:PutObject"], f"{arn}/artifacts/*", ours),
        allow("SessionLogs", ["s3:PutObject"], f"{logs}/ssm-sessions/*", ours),
        allow("SessionLogEncryption", ["s3:GetEncryptionConfiguration"], logs, ours),
        allow(
            "FindDatabase", ["rds:DescribeDBInstances"], f"arn:{partition}:rds:{region_account}:db:{plan.db}"
        ),
        allow(
            "HostSecrets",
            ["secretsmanager:GetSecretValue"],
            [
                f"arn:{partition}:secretsmanager:{region_account}:secret:{name}-??????"
                for name in host_secrets(plan)
            ],
        ),
        # These actions take no resource: the agent registers and opens its channels.
        allow("SessionManagerAndRunCommand", SSM_AGENT, "*"),
    ]
    if plan.celery:
        statements.append(
            allow(
                "FindBroker",
                ["elasticache:DescribeReplicationGroups"],
                f"arn:{partition}:elasticache:{region_account}:replicationgroup:{plan.broker}",
            )
        )
    return {"Version": "2012-10-17", "Statement": statements}


def restarter_policy(plan: Plan, partition: str = "aws") -> dict:
    """EventBridge may run RunShellScript on this environment's host, and nothing else."""
    tagged = {"StringEquals": {"aws:ResourceTag/Project": plan.project, "aws:ResourceTag/Env": plan.env}}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RunShellScript",
                "Effect": "Allow",
                "Action": ["ssm:SendCommand"],
                "Resource": f"arn:{partition}:ssm:{plan.region}::document/{RUN_SHELL}",
            },
            {
                "Sid": "OnThisHost",
                "Effect": "Allow",
                "Action": ["ssm:SendCommand"],
                "Resource": f"arn:{partition}:ec2:{plan.region}:{plan.account}:instance/*",
                "Condition": tagged,
            },
        ],
    }


class Identity:
    def __init__(self, plan: Plan, session):
        self.plan = plan
        self.iam = session.client("iam")
        self.partition = session.get_partition_for_region(plan.region)

    def steps(self) -> list[Step]:
        p = self.plan
        return [
            self._role_step(p.host, "ec2.amazonaws.com", host_policy(p, self.partition)),
            Step(
                "instance profile",
                p.host,
                self.find_profile,
                self.create_profile,
                tags=lambda found: tag_dict(found.get("Tags")),
                delete=self.delete_profile,
            ),
            self._role_step(p.restarter, "events.amazonaws.com", restarter_policy(p, self.partition)),
        ]

    def _role_step(self, name: str, service: str, policy: dict) -> Step:
        return Step(
            "iam role",
            name,
            lambda: get(self.iam.get_role, "Role", RoleName=name),
            lambda: self.create_role(name, service, policy),
            tags=lambda found: tag_dict(found.get("Tags")),
            delete=lambda found: self.delete_role(name),
            drift=lambda found: self.drift(name, policy),
            fix=lambda found: self.fix(name, policy),
        )

    def create_role(self, name: str, service: str, policy: dict) -> None:
        self.iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(trust(service)),
            Description=f"{service.split('.')[0]} of {self.plan.prefix}",
            Tags=self.plan.tags(name),
        )
        self.iam.put_role_policy(RoleName=name, PolicyName=name, PolicyDocument=json.dumps(policy))

    def drift(self, name: str, policy: dict) -> list[str]:
        found = []
        if get(self.iam.get_role_policy, "PolicyDocument", RoleName=name, PolicyName=name) != policy:
            found.append("inline policy differs")
        attached = self.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        found += [f"managed policy {a['PolicyName']} attached" for a in attached]
        extra = set(self.iam.list_role_policies(RoleName=name)["PolicyNames"]) - {name}
        found += [f"inline policy {e} added" for e in sorted(extra)]
        return found

    def fix(self, name: str, policy: dict) -> None:
        self._strip(name)
        self.iam.put_role_policy(RoleName=name, PolicyName=name, PolicyDocument=json.dumps(policy))

    def _strip(self, name: str) -> None:
        for attached in self.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            self.iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
        for inline in self.iam.list_role_policies(RoleName=name)["PolicyNames"]:
            self.iam.delete_role_policy(RoleName=name, PolicyName=inline)

    def delete_role(self, name: str) -> str:
        self._strip(name)
        self.iam.delete_role(RoleName=name)
        return "deleted"

    def find_profile(self) -> dict | None:
        return get(self.iam.get_instance_profile, "InstanceProfile", InstanceProfileName=self.plan.host)

    def create_profile(self) -> None:
        host = self.plan.host
        self.iam.create_instance_profile(InstanceProfileName=host, Tags=self.plan.tags(host))
        self.iam.add_role_to_instance_profile(InstanceProfileName=host, RoleName=host)

    def delete_profile(self, profile: dict) -> str:
        for role in profile["Roles"]:
            self.iam.remove_role_from_instance_profile(
                InstanceProfileName=self.plan.host, RoleName=role["RoleName"]
            )
        self.iam.delete_instance_profile(InstanceProfileName=self.plan.host)
        return "deleted"
