"""RDS PostgreSQL 16: Airflow's metadata (database `airflow`) and the warehouse, one instance.

Encrypted, private, TLS only, connections logged to CloudWatch Logs; the master password
is generated and rotated by RDS in Secrets Manager and read only from the operator's
machine (infra/logins.py). With `protect` (the default) the instance has deletion
protection and 7 days of backups; destroy always keeps a final snapshot.
"""

from __future__ import annotations

from datetime import UTC, datetime

from .plan import Plan
from .steps import Step, get, tag_dict

LOG_EXPORTS = ["postgresql", "upgrade"]
PARAMETERS = {  # security settings of the server; applied without a reboot
    "rds.force_ssl": "1",
    "log_connections": "1",
    "log_disconnections": "1",
}


def backup_days(plan: Plan) -> int:
    return 7 if plan.protect else 1


class Database:
    def __init__(self, plan: Plan, session, group_id, wait: bool = True):
        self.plan, self.wait = plan, wait
        self.rds = session.client("rds")
        self.group_id = group_id  # name -> security group id (network.py)

    def steps(self) -> list[Step]:
        p = self.plan
        return [
            Step(
                "db parameter group",
                p.db,
                self.find_parameters,
                self.create_parameters,
                tags=lambda found: self.tags(found["DBParameterGroupArn"]),
                delete=self.delete_parameters,
                drift=self.parameter_drift,
                fix=lambda found: self.set_parameters(),
            ),
            Step(
                "rds instance",
                p.db,
                self.find_db,
                self.create_db,
                tags=lambda found: tag_dict(found.get("TagList")),
                delete=self.delete_db,
                drift=self.drift,
                fix=self.fix,
                wait=self.wait_for_db,
                holds_data=lambda found: True,
                protected=lambda found: bool(found.get("DeletionProtection")),
            ),
        ]

    def tags(self, arn: str) -> dict[str, str]:
        return tag_dict(self.rds.list_tags_for_resource(ResourceName=arn)["TagList"])

    # Parameter group ------------------------------------------------------------------------
    def find_parameters(self) -> dict | None:
        return get(
            self.rds.describe_db_parameter_groups, "DBParameterGroups", 0, DBParameterGroupName=self.plan.db
        )

    def create_parameters(self) -> None:
        self.rds.create_db_parameter_group(
            DBParameterGroupName=self.plan.db,
            DBParameterGroupFamily="postgres16",
            Description=f"{self.plan.prefix}: TLS only, connections logged",
            Tags=self.plan.tags(self.plan.db),
        )
        self.set_parameters()

    def set_parameters(self) -> None:
        self.rds.modify_db_parameter_group(
            DBParameterGroupName=self.plan.db,
            Parameters=[
                {"ParameterName": name, "ParameterValue": value, "ApplyMethod": "immediate"}
                for name, value in PARAMETERS.items()
            ],
        )

    def parameter_drift(self, found: dict) -> list[str]:
        pages = self.rds.get_paginator("describe_db_parameters").paginate(
            DBParameterGroupName=self.plan.db, Source="user"
        )
        values = {p["ParameterName"]: p.get("ParameterValue") for page in pages for p in page["Parameters"]}
        return [f"{name} is not {value}" for name, value in PARAMETERS.items() if values.get(name) != value]

    def delete_parameters(self, found: dict) -> str:
        self.rds.delete_db_parameter_group(DBParameterGroupName=self.plan.db)
        return "deleted"

    # Instance -------------------------------------------------------------------------------
    def find_db(self) -> dict | None:
        return get(self.rds.describe_db_instances, "DBInstances", 0, DBInstanceIdentifier=self.plan.db)

    def create_db(self) -> None:
        p = self.plan
        options = {"DBSubnetGroupName": p.db_subnet_group} if p.db_subnet_group else {}
        self.rds.create_db_instance(
            DBInstanceIdentifier=p.db,
            Engine="postgres",
            EngineVersion="16",
            DBInstanceClass=p.db_class,
            AllocatedStorage=p.db_storage_gb,
            MaxAllocatedStorage=max(100, p.db_storage_gb),
            StorageType="gp3",
            StorageEncrypted=True,
            DBName=p.database,
            MasterUsername="dbadmin",
            ManageMasterUserPassword=True,
            VpcSecurityGroupIds=[self.group_id(p.db)],
            DBParameterGroupName=p.db,
            PubliclyAccessible=False,
            DeletionProtection=p.protect,
            BackupRetentionPeriod=backup_days(p),
            CopyTagsToSnapshot=True,
            AutoMinorVersionUpgrade=True,
            EnableCloudwatchLogsExports=LOG_EXPORTS,
            Tags=p.tags(p.db),
            **options,
        )

    def drift(self, db: dict) -> list[str]:
        p, found = self.plan, []
        if not db.get("StorageEncrypted"):
            found.append("storage not encrypted (cannot change in place: restore a snapshot encrypted)")
        if db.get("PubliclyAccessible"):
            found.append("publicly accessible")
        if bool(db.get("DeletionProtection")) != p.protect:
            found.append(f"deletion protection {'off' if p.protect else 'on'} (protect is {p.protect})")
        if db.get("BackupRetentionPeriod", 0) < backup_days(p):
            found.append(f"backups kept {db.get('BackupRetentionPeriod', 0)} days, not {backup_days(p)}")
        if set(LOG_EXPORTS) - set(db.get("EnabledCloudwatchLogsExports", [])):
            found.append("logs not exported to CloudWatch Logs")
        return found

    def fix(self, db: dict) -> None:
        missing = sorted(set(LOG_EXPORTS) - set(db.get("EnabledCloudwatchLogsExports", [])))
        self.rds.modify_db_instance(
            DBInstanceIdentifier=self.plan.db,
            PubliclyAccessible=False,
            DeletionProtection=self.plan.protect,
            BackupRetentionPeriod=max(db.get("BackupRetentionPeriod", 0), backup_days(self.plan)),
            ApplyImmediately=True,
            **({"CloudwatchLogsExportConfiguration": {"EnableLogTypes": missing}} if missing else {}),
        )

    def wait_for_db(self) -> None:
        self.rds.get_waiter("db_instance_available").wait(
            DBInstanceIdentifier=self.plan.db, WaiterConfig={"Delay": 30, "MaxAttempts": 80}
        )

    def delete_db(self, db: dict) -> str:
        """Always with a final snapshot, and the automated backups kept."""
        if db["DBInstanceStatus"] == "deleting":
            return "deleting"
        snapshot = f"{self.plan.db}-final-{datetime.now(UTC):%Y%m%d%H%M%S}"
        self.rds.delete_db_instance(
            DBInstanceIdentifier=self.plan.db,
            FinalDBSnapshotIdentifier=snapshot,
            DeleteAutomatedBackups=False,
        )
        if self.wait:  # the parameter and security groups go next
            self.rds.get_waiter("db_instance_deleted").wait(
                DBInstanceIdentifier=self.plan.db, WaiterConfig={"Delay": 30, "MaxAttempts": 80}
            )
        return f"deleted (final snapshot {snapshot})"
