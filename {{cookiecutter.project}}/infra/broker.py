"""ElastiCache for Valkey: the Celery broker (executor = celery), TLS in transit, AUTH token
from Secrets Manager, encrypted at rest, reachable from the host's security group only.
Celery's results go to the metadata PostgreSQL, so the broker holds only queued messages.
"""

from __future__ import annotations

from .credentials import Credentials
from .plan import Plan
from .steps import Step, get, tag_dict

PORT = 6379


class Broker:
    def __init__(self, plan: Plan, session, group_id, credentials: Credentials):
        self.plan, self.group_id, self.credentials = plan, group_id, credentials
        self.cache = session.client("elasticache")

    def steps(self) -> list[Step]:
        if not self.plan.celery:
            return []
        return [
            Step(
                "elasticache",
                self.plan.broker,
                self.find,
                self.create,
                tags=lambda found: tag_dict(
                    self.cache.list_tags_for_resource(ResourceName=found["ARN"])["TagList"]
                ),
                delete=self.delete,
                drift=self.drift,
            )
        ]

    def find(self) -> dict | None:
        """The broker, unless it is being deleted (its security group frees up once it is gone)."""
        group = get(
            self.cache.describe_replication_groups,
            "ReplicationGroups",
            0,
            ReplicationGroupId=self.plan.broker,
        )
        return None if group is None or group["Status"] == "deleting" else group

    def create(self) -> None:
        p = self.plan
        options = {"CacheSubnetGroupName": p.cache_subnet_group} if p.cache_subnet_group else {}
        self.cache.create_replication_group(
            ReplicationGroupId=p.broker,
            ReplicationGroupDescription=f"Celery broker of {p.prefix}",
            Engine="valkey",
            CacheNodeType=p.cache_node_type,
            NumCacheClusters=1,
            Port=PORT,
            TransitEncryptionEnabled=True,
            AtRestEncryptionEnabled=True,
            AuthToken=self.credentials.value("broker-auth")["auth_token"],
            SecurityGroupIds=[self.group_id(p.broker)],
            Tags=p.tags(p.broker),
            **options,
        )

    def drift(self, group: dict) -> list[str]:
        wanted = {
            "TransitEncryptionEnabled": "TLS",
            "AuthTokenEnabled": "AUTH",
            "AtRestEncryptionEnabled": "encryption at rest",
        }
        return [
            f"{label} off (recreate the broker: destroy it, then apply)"
            for key, label in wanted.items()
            if not group.get(key)
        ]

    def delete(self, group: dict) -> str:
        self.cache.delete_replication_group(ReplicationGroupId=self.plan.broker, RetainPrimaryCluster=False)
        return "deleting"
