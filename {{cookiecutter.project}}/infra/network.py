"""Security groups: the host's (no inbound: reach it through SSM), the database's (5432 from
the host's group only) and, with Celery, the broker's (6379 from the host's group only)."""

from __future__ import annotations

from functools import cached_property

from botocore.exceptions import ClientError

from .plan import Plan, Refused
from .steps import Step, code, tag_dict

PORTS = {"db": 5432, "broker": 6379}


class Network:
    def __init__(self, plan: Plan, session):
        self.plan = plan
        self.ec2 = session.client("ec2")

    def steps(self) -> list[Step]:
        p = self.plan
        groups = [(p.host, "Airflow host: no inbound, use SSM Session Manager", None)]
        groups.append((p.db, "PostgreSQL from the Airflow host only", PORTS["db"]))
        if p.celery:
            groups.append(
                (p.broker, "Celery broker (Redis protocol) from the Airflow host only", PORTS["broker"])
            )
        return [self._group_step(name, description, port) for name, description, port in groups]

    def _group_step(self, name: str, description: str, port: int | None) -> Step:
        return Step(
            "security group",
            name,
            lambda: self.find_group(name),
            lambda: self.create_group(name, description, port),
            tags=lambda found: tag_dict(found.get("Tags")),
            delete=self.delete_group,
            drift=lambda found: self.drift(found, port),
            fix=lambda found: self.fix(found, port),
        )

    @cached_property
    def vpc(self) -> str:
        p = self.plan
        if p.vpc_id:
            return p.vpc_id
        if p.subnet_id:
            return self.ec2.describe_subnets(SubnetIds=[p.subnet_id])["Subnets"][0]["VpcId"]
        vpcs = self.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
        if not vpcs:
            raise Refused(f"no default VPC in {p.region}: pass --vpc-id, --subnet-id, --db-subnet-group")
        return vpcs[0]["VpcId"]

    def find_group(self, name: str) -> dict | None:
        groups = self.ec2.describe_security_groups(
            Filters=[{"Name": "group-name", "Values": [name]}, {"Name": "vpc-id", "Values": [self.vpc]}]
        )["SecurityGroups"]
        return groups[0] if groups else None

    def group_id(self, name: str) -> str:
        return self.find_group(name)["GroupId"]

    def create_group(self, name: str, description: str, port: int | None) -> None:
        group = self.ec2.create_security_group(
            GroupName=name,
            Description=description,
            VpcId=self.vpc,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": self.plan.tags(name)}],
        )
        if port:
            self.ec2.authorize_security_group_ingress(
                GroupId=group["GroupId"], IpPermissions=self.ingress(port)
            )

    def ingress(self, port: int | None) -> list[dict]:
        if port is None:
            return []
        source = [{"GroupId": self.group_id(self.plan.host)}]
        return [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "UserIdGroupPairs": source}]

    @staticmethod
    def _rules(permissions: list[dict]) -> set[tuple]:
        return {
            (p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), source)
            for p in permissions
            for source in [g["GroupId"] for g in p.get("UserIdGroupPairs", [])]
            + [r["CidrIp"] for r in p.get("IpRanges", [])]
            + [r["CidrIpv6"] for r in p.get("Ipv6Ranges", [])]
            + [r["PrefixListId"] for r in p.get("PrefixListIds", [])]
        }

    def drift(self, group: dict, port: int | None) -> list[str]:
        extra = self._rules(group["IpPermissions"]) - self._rules(self.ingress(port))
        return [f"inbound {proto} {low}-{high} from {source}" for proto, low, high, source in sorted(extra)]

    def fix(self, group: dict, port: int | None) -> None:
        if group["IpPermissions"]:
            self.ec2.revoke_security_group_ingress(
                GroupId=group["GroupId"], IpPermissions=group["IpPermissions"]
            )
        if port:
            self.ec2.authorize_security_group_ingress(
                GroupId=group["GroupId"], IpPermissions=self.ingress(port)
            )

    def delete_group(self, group: dict) -> str:
        try:
            self.ec2.delete_security_group(GroupId=group["GroupId"])
        except ClientError as exc:
            if code(exc) == "DependencyViolation":
                return "kept (still in use: run destroy again once the instances are gone)"
            raise
        return "deleted"
