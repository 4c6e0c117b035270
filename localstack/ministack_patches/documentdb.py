"""Amazon DocumentDB: what ftctl's `[documents.NAME]` does with aws-sdk-docdb, as the DocumentDB
API reference describes it (https://docs.aws.amazon.com/documentdb/latest/developerguide/
api-reference.html; the wire API is RDS's awsQuery 2014-10-31, signed for `rds`).

AWS:
- Responses parse with the SDK's XML deserializer: a boolean is `true` or `false`, nothing else.
- Error codes are the model's (`DBInstanceAlreadyExists`, `InvalidDBInstanceState`, ...).
- CreateDBCluster with `ManageMasterUserPassword` generates the master password and keeps it in a
  Secrets Manager secret, reported as `MasterUserSecret {SecretArn, SecretStatus, KmsKeyId}`, and
  deletes the secret with the cluster; MasterUserPassword may not be given with it
  (API_CreateDBCluster, DG docdb-secrets-manager.html). ModifyDBCluster can turn it on or off (off
  needs a MasterUserPassword) and rotate it.
- Subnet groups are one RDS resource: a cluster names any subnet group of the account (ftctl's
  are made through the RDS API, in moto here); security groups are EC2's.
- A cluster's instances take its subnet group, security groups, encryption and backups; the first
  instance is the writer, FailoverDBCluster promotes the target (or the replica with the lowest
  PromotionTier) (DG failover.html). DeleteDBInstance is allowed with the cluster's deletion
  protection on, DeleteDBCluster is not (`InvalidParameterCombination`), nor while the cluster
  has instances (`InvalidDBClusterStateFault`); it needs SkipFinalSnapshot or a
  FinalDBSnapshotIdentifier, which makes a manual cluster snapshot; automated snapshots go with
  the cluster, manual ones stay (API_DeleteDBCluster, DG db-cluster-delete.html).
- ModifyDBInstance applies a new instance class (or CA certificate) at the next maintenance
  window unless ApplyImmediately (API_ModifyDBInstance): until then it is in PendingModifiedValues.
- Cluster parameter groups of the docdb families hold DocumentDB's parameters (`tls`: static,
  enabled | disabled | fips-140-3 | tls1.2+ | tls1.3+; DG
  cluster_parameter_groups-list_of_parameters.html); a static one is set with ApplyMethod
  pending-reboot and reaches the members at their next reboot (DBClusterParameterGroupStatus
  pending-reboot until then), as does a new group given to ModifyDBCluster. A group in use cannot
  be deleted (`InvalidDBParameterGroupState`).
- Cluster snapshots: CreateDBClusterSnapshot, DescribeDBClusterSnapshots (by cluster,
  SnapshotType automated | manual), DeleteDBClusterSnapshot (manual only).

ministack 1.5.33 (services/documentdb.py): padded booleans in every DBInstance
(`<AutoMinorVersionUpgrade>\\n true\\n</...>`: the Rust SDK fails with "expected boolean", so
CreateDBInstance and DescribeDBInstances never parse); `DBInstanceAlreadyExistsFault` and
`InvalidDBInstanceStateFault`; ManageMasterUserPassword ignored (no secret, password "password",
also accepted with a MasterUserPassword); instances report their own subnet group `default`, no
security groups, StorageEncrypted false; ModifyDBCluster ignored DBClusterParameterGroupName;
DeleteDBCluster ignored the final-snapshot parameters; deletion protection also blocked deleting
a member instance; ModifyDBInstance applied everything at once; cluster snapshots of DocumentDB
clusters went to ministack's RDS, which does not know them (DBClusterNotFoundFault); cluster
parameter groups were RDS's generic ones (no `tls`, any value, members always in-sync);
DescribeDBEngineVersions(Engine=docdb) answered postgres' "15.3".

Here: DBCluster, DBInstance and DBClusterSnapshot are rendered from the DocumentDB model's shapes
(every boolean `true`/`false`, instances showing their cluster's subnet group, security groups,
encryption and backups); the model's error codes; a managed master password lives in a real
secret of ministack's Secrets Manager (`rds!cluster-<uuid>`, JSON username/password), removed
with the cluster; the parameter-group, final-snapshot, deletion-protection, pending-modification
and failover behaviour above; cluster snapshots of DocumentDB clusters in the RDS store they
share (so RDS's listing shows them, as on AWS), an automated one made with the cluster;
DocumentDB's cluster parameters (docdb3.6/4.0/5.0/8.0, `default.docdbX.Y` readable) with
value checks; DocumentDB's engine versions. Identifiers are stored lower-case and may be given as
ARNs, as on AWS. Still instant: every status is `available` at once (no creating, modifying,
failing-over, backing-up), deletions vanish at once.

Not confirmed on an AWS account, taken from RDS's documented or reported behaviour: the order of
DeleteDBCluster's checks and its messages, the errors of a failover without a replica
(InvalidDBClusterStateFault) or to an unknown instance (DBInstanceNotFound), the secret's name and
that the first automated snapshot exists at once; `Source` values other than user/system/
engine-default are read as "all".
"""

import json
import re
import secrets as _stdlib_secrets
import threading
import time
import uuid
from xml.sax.saxutils import escape as _esc

from ministack.core.responses import get_account_id, get_region
from ministack.services import documentdb as docdb
from ministack.services import rds as _rds
from ministack.services import secretsmanager as _sm

# One lock for DocumentDB's handlers and the RDS parameter-group handlers below: ministack runs
# handlers on worker threads, and ftctl creates a cluster's instances in parallel (two at once
# could both become writer in ministack's member bookkeeping).
_lock = threading.RLock()

_p = docdb._evaluate_params
_list_param = docdb._parse_member_list


def _err(code, message, status=400):
    return _original_error(code, _esc(message), status)


def _flag(params, key):
    """A boolean request parameter: True, False, or None when absent."""
    value = _p(params, key)
    if value == "":
        return None
    return value.lower() == "true"


def _int(params, key):
    """An integer request parameter: the int, None when absent, "bad" when not a number."""
    value = _p(params, key)
    if value == "":
        return None
    try:
        return int(value)
    except ValueError:
        return "bad"


# ---------------------------------------------------------------------------
# Error codes: the model's, not ministack's variants.
# ---------------------------------------------------------------------------

_CODE_FIXES = {
    "DBInstanceAlreadyExistsFault": "DBInstanceAlreadyExists",
    "InvalidDBInstanceStateFault": "InvalidDBInstanceState",
}
_original_error = docdb._error


def _error(code, message, status):
    return _original_error(_CODE_FIXES.get(code, code), message, status)


docdb._error = _error


# ---------------------------------------------------------------------------
# Identifiers: AWS stores them lower-case, matches them case-insensitively and takes an ARN
# wherever an identifier is asked for.
# ---------------------------------------------------------------------------

_ID_KEYS = {
    "DBClusterIdentifier": "cluster",
    "DBInstanceIdentifier": "db",
    "TargetDBInstanceIdentifier": "db",
    "DBClusterSnapshotIdentifier": "cluster-snapshot",
    "FinalDBSnapshotIdentifier": None,
}
_ID_RE = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,62}(?<!-)$")


def _normalize(params):
    for key, arn_type in _ID_KEYS.items():
        value = _p(params, key)
        if not value:
            continue
        parts = value.split(":")
        if value.startswith("arn:") and len(parts) >= 7 and parts[2] == "rds" and parts[5] == arn_type:
            value = ":".join(parts[6:])
        params[key] = [value.lower()]
    return params


def _bad_identifier(value, name):
    if _ID_RE.match(value or ""):
        return None
    return _err(
        "InvalidParameterValue",
        f"The parameter {name} is not a valid identifier. Identifiers must begin with a letter; "
        "must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen "
        "or contain two consecutive hyphens.",
    )


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def _aws_managed_key_arn(alias):
    """The ARN of the account's AWS managed key `alias` (aws/rds, aws/secretsmanager): ministack's
    KMS has none, so a stable made-up key id per account and region stands in for it."""
    region, account = get_region(), get_account_id()
    key_id = uuid.uuid5(uuid.NAMESPACE_URL, f"kms:{account}:{region}:alias/{alias}")
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def _key_arn(key):
    """A KMS key id as the ARN AWS reports (a bare key id becomes an ARN; aliases and ARNs as given)."""
    if not key or key.startswith("arn:") or key.startswith("alias/"):
        return key
    return f"arn:aws:kms:{get_region()}:{get_account_id()}:key/{key}"


def _family(engine_version):
    return "docdb" + ".".join(str(engine_version).split(".")[:2])


def _members_of(cluster):
    return cluster.setdefault("DBClusterMembers", [])


def _member(cluster, db_id):
    return next((m for m in _members_of(cluster) if m.get("DBInstanceIdentifier") == db_id), None)


def _now():
    return docdb._format_time(time.time())


# ---------------------------------------------------------------------------
# XML, from the DocumentDB model's shapes (botocore docdb 2014-10-31): leaf values escaped, booleans
# `true`/`false`, absent values left out.
# ---------------------------------------------------------------------------

def _t(tag, value):
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{tag}>{_esc(str(value))}</{tag}>"


def _items(tag, member_tag, values):
    return f"<{tag}>" + "".join(_t(member_tag, v) for v in values) + f"</{tag}>"


def _tags_xml(tags):
    return "<TagList>" + "".join(
        f"<Tag>{_t('Key', t.get('Key'))}<Value>{_esc(t.get('Value') or '')}</Value></Tag>"
        for t in tags or []
    ) + "</TagList>"


def _sgs_xml(groups):
    return "<VpcSecurityGroups>" + "".join(
        "<VpcSecurityGroupMembership>"
        + _t("VpcSecurityGroupId", g.get("VpcSecurityGroupId"))
        + _t("Status", g.get("Status", "active"))
        + "</VpcSecurityGroupMembership>"
        for g in groups or []
    ) + "</VpcSecurityGroups>"


def _cluster_xml(c):
    members = _members_of(c)
    zones = {
        i.get("AvailabilityZone")
        for i in (docdb._instances.get(m.get("DBInstanceIdentifier")) for m in members)
        if i
    }
    member_xml = "".join(
        "<DBClusterMember>"
        + _t("DBInstanceIdentifier", m.get("DBInstanceIdentifier"))
        + _t("IsClusterWriter", bool(m.get("IsClusterWriter")))
        + _t("DBClusterParameterGroupStatus", m.get("DBClusterParameterGroupStatus", "in-sync"))
        + _t("PromotionTier", m.get("PromotionTier", 1))
        + "</DBClusterMember>"
        for m in members
    )
    secret = c.get("MasterUserSecret")
    secret_xml = ""
    if secret:
        secret_xml = (
            "<MasterUserSecret>"
            + _t("SecretArn", secret.get("SecretArn"))
            + _t("SecretStatus", secret.get("SecretStatus", "active"))
            + _t("KmsKeyId", secret.get("KmsKeyId"))
            + "</MasterUserSecret>"
        )
    storage_type = c.get("StorageType")
    return "".join([
        _items("AvailabilityZones", "AvailabilityZone", c.get("AvailabilityZones", [])),
        _t("BackupRetentionPeriod", c.get("BackupRetentionPeriod", 1)),
        _t("DBClusterIdentifier", c["DBClusterIdentifier"]),
        _t("DBClusterParameterGroup", c.get("DBClusterParameterGroup")),
        _t("DBSubnetGroup", c.get("DBSubnetGroup", "default")),
        _t("Status", c.get("Status", "available")),
        _t("EarliestRestorableTime", c.get("EarliestRestorableTime")),
        _t("Endpoint", c.get("Endpoint")),
        _t("ReaderEndpoint", c.get("ReaderEndpoint")),
        _t("MultiAZ", len(zones) > 1),
        _t("Engine", c.get("Engine", "docdb")),
        _t("EngineVersion", c.get("EngineVersion")),
        _t("LatestRestorableTime", _now()),
        _t("Port", c.get("Port", 27017)),
        _t("MasterUsername", c.get("MasterUsername")),
        _t("PreferredBackupWindow", c.get("PreferredBackupWindow")),
        _t("PreferredMaintenanceWindow", c.get("PreferredMaintenanceWindow")),
        "<ReadReplicaIdentifiers/>",
        f"<DBClusterMembers>{member_xml}</DBClusterMembers>",
        _sgs_xml(c.get("VpcSecurityGroups")),
        _t("HostedZoneId", c.get("HostedZoneId", "Z2R2ITUGPM61AM")),
        _t("StorageEncrypted", bool(c.get("StorageEncrypted"))),
        _t("KmsKeyId", c.get("KmsKeyId") if c.get("StorageEncrypted") else None),
        _t("DbClusterResourceId", c.get("DbClusterResourceId")),
        _t("DBClusterArn", c["DBClusterArn"]),
        "<AssociatedRoles/>",
        _t("ClusterCreateTime", c.get("ClusterCreateTime")),
        _items("EnabledCloudwatchLogsExports", "member", c.get("EnabledCloudwatchLogsExports", [])),
        _t("DeletionProtection", bool(c.get("DeletionProtection"))),
        # AWS leaves StorageType out for standard storage (API_DBCluster).
        _t("StorageType", storage_type if storage_type and storage_type != "standard" else None),
        secret_xml,
        _t("NetworkType", c.get("NetworkType", "IPV4")),
        _t("CopyTagsToSnapshot", bool(c.get("CopyTagsToSnapshot"))),
        _tags_xml(docdb._tags.get(c["DBClusterArn"], c.get("TagList"))),
    ])


def _subnet_group_xml(name):
    """A cluster's subnet group as DBInstance.DBSubnetGroup: ministack RDS's record when it has one;
    otherwise (one made in moto through the RDS API) just its name."""
    group = _rds._subnet_groups.get(name) if name else None
    if not group:
        return ("<DBSubnetGroup>" + _t("DBSubnetGroupName", name or "default")
                + _t("SubnetGroupStatus", "Complete") + "<Subnets/></DBSubnetGroup>")
    subnets = "".join(
        "<Subnet>"
        + _t("SubnetIdentifier", s.get("SubnetIdentifier"))
        + f"<SubnetAvailabilityZone>{_t('Name', docdb._subnet_az_name(s))}</SubnetAvailabilityZone>"
        + _t("SubnetStatus", s.get("SubnetStatus", "Active"))
        + "</Subnet>"
        for s in group.get("Subnets", [])
    )
    return ("<DBSubnetGroup>"
            + _t("DBSubnetGroupName", group.get("DBSubnetGroupName"))
            + _t("DBSubnetGroupDescription", group.get("DBSubnetGroupDescription"))
            + _t("VpcId", group.get("VpcId"))
            + _t("SubnetGroupStatus", group.get("SubnetGroupStatus", "Complete"))
            + f"<Subnets>{subnets}</Subnets>"
            + _t("DBSubnetGroupArn", group.get("DBSubnetGroupArn"))
            + "</DBSubnetGroup>")


def _instance_xml(i):
    # Network, encryption and backups are the cluster's (API_CreateDBInstance: "managed by the
    # cluster"), read from it now so a ModifyDBCluster shows on its instances.
    c = docdb._clusters.get(i.get("DBClusterIdentifier") or "") or {}
    endpoint = i.get("Endpoint") or {}
    pending = i.get("PendingModifiedValues") or {}
    pending_xml = "".join(_t(k, v) for k, v in pending.items())
    encrypted = bool(c.get("StorageEncrypted", i.get("StorageEncrypted")))
    ca = i.get("CACertificateIdentifier", "rds-ca-rsa2048-g1")
    cert = i.get("CertificateDetails") or {}
    return "".join([
        _t("DBInstanceIdentifier", i["DBInstanceIdentifier"]),
        _t("DBInstanceClass", i.get("DBInstanceClass")),
        _t("Engine", "docdb"),
        _t("DBInstanceStatus", i.get("DBInstanceStatus", "available")),
        "<Endpoint>"
        + _t("Address", endpoint.get("Address", "localhost"))
        + _t("Port", c.get("Port") or endpoint.get("Port", 27017))
        + _t("HostedZoneId", endpoint.get("HostedZoneId", "Z2R2ITUGPM61AM"))
        + "</Endpoint>",
        _t("InstanceCreateTime", i.get("InstanceCreateTime")),
        _t("PreferredBackupWindow", c.get("PreferredBackupWindow", i.get("PreferredBackupWindow"))),
        _t("BackupRetentionPeriod", c.get("BackupRetentionPeriod", i.get("BackupRetentionPeriod", 1))),
        _sgs_xml(c.get("VpcSecurityGroups", i.get("VpcSecurityGroups"))),
        _t("AvailabilityZone", i.get("AvailabilityZone")),
        _subnet_group_xml(c.get("DBSubnetGroup")),
        _t("PreferredMaintenanceWindow", i.get("PreferredMaintenanceWindow")),
        f"<PendingModifiedValues>{pending_xml}</PendingModifiedValues>",
        _t("LatestRestorableTime", _now()),
        _t("EngineVersion", c.get("EngineVersion", i.get("EngineVersion"))),
        _t("AutoMinorVersionUpgrade", bool(i.get("AutoMinorVersionUpgrade", True))),
        _t("PubliclyAccessible", False),  # DocumentDB instances never are.
        "<StatusInfos/>",
        _t("DBClusterIdentifier", i.get("DBClusterIdentifier")),
        _t("StorageEncrypted", encrypted),
        _t("KmsKeyId", c.get("KmsKeyId") if encrypted else None),
        _t("DbiResourceId", i.get("DbiResourceId")),
        _t("CACertificateIdentifier", ca),
        _t("CopyTagsToSnapshot", bool(i.get("CopyTagsToSnapshot"))),
        _t("PromotionTier", i.get("PromotionTier", 1)),
        _t("DBInstanceArn", i["DBInstanceArn"]),
        _items("EnabledCloudwatchLogsExports", "member", c.get("EnabledCloudwatchLogsExports", [])),
        "<CertificateDetails>"
        + _t("CAIdentifier", cert.get("CAIdentifier", ca))
        + _t("ValidTill", cert.get("ValidTill", "2061-01-01T00:00:00Z"))
        + "</CertificateDetails>",
        _t("PerformanceInsightsEnabled", bool(i.get("PerformanceInsightsEnabled"))),
        _t("PerformanceInsightsKMSKeyId", i.get("PerformanceInsightsKMSKeyId")),
        _tags_xml(docdb._tags.get(i["DBInstanceArn"], i.get("TagList"))),
    ])


def _snapshot_xml(s):
    return "".join([
        _items("AvailabilityZones", "AvailabilityZone", s.get("AvailabilityZones", [])),
        _t("DBClusterSnapshotIdentifier", s["DBClusterSnapshotIdentifier"]),
        _t("DBClusterIdentifier", s.get("DBClusterIdentifier")),
        _t("SnapshotCreateTime", s.get("SnapshotCreateTime")),
        _t("Engine", "docdb"),
        _t("Status", s.get("Status", "available")),
        _t("Port", s.get("Port", 27017)),
        _t("VpcId", s.get("VpcId")),
        _t("ClusterCreateTime", s.get("ClusterCreateTime")),
        _t("MasterUsername", s.get("MasterUsername")),
        _t("EngineVersion", s.get("EngineVersion")),
        _t("SnapshotType", s.get("SnapshotType", "manual")),
        _t("PercentProgress", s.get("PercentProgress", 100)),
        _t("StorageEncrypted", bool(s.get("StorageEncrypted"))),
        _t("KmsKeyId", s.get("KmsKeyId") if s.get("StorageEncrypted") else None),
        _t("DBClusterSnapshotArn", s["DBClusterSnapshotArn"]),
        _t("StorageType", s.get("StorageType") if s.get("StorageType") != "standard" else None),
        _tags_xml(_rds._tags.get(s["DBClusterSnapshotArn"], [])),
    ])


def _respond(action, element, body):
    return docdb._xml(200, f"{action}Response",
                      f"<{action}Result><{element}>{body}</{element}></{action}Result>")


def _cluster_response(action, cluster, status=None):
    if status:
        cluster = dict(cluster, Status=status)
    return _respond(action, "DBCluster", _cluster_xml(cluster))


def _instance_response(action, instance, status=None):
    if status:
        instance = dict(instance, DBInstanceStatus=status)
    return _respond(action, "DBInstance", _instance_xml(instance))


# ministack's own describe handlers, and RDS's unfiltered DescribeDBClusters/DescribeDBInstances
# (which append DocumentDB's records, as AWS lists every engine), look these up in the module.
docdb._cluster_xml = _cluster_xml
docdb._instance_xml = _instance_xml


# ---------------------------------------------------------------------------
# Validation shared by create and modify
# ---------------------------------------------------------------------------

def _check_cluster_settings(params):
    retention = _int(params, "BackupRetentionPeriod")
    if retention is not None and (retention == "bad" or not 1 <= retention <= 35):
        return _err("InvalidParameterValue",
                    "Invalid backup retention period: it must be a value from 1 to 35 days.")
    port = _int(params, "Port")
    if port is not None and (port == "bad" or not 1150 <= port <= 65535):
        return _err("InvalidParameterValue", "Invalid port: it must be from 1150 to 65535.")
    storage = _p(params, "StorageType")
    if storage and storage not in ("standard", "iopt1"):
        return _err("InvalidParameterValue",
                    f"Invalid storage type: {storage}. Valid values: standard, iopt1.")
    return None


def _check_parameter_group(name, engine_version):
    """The group a cluster is to use: it must exist (a `default.docdbX.Y` always does) and be of
    the cluster's family."""
    family = _family(engine_version)
    if name.startswith("default."):
        found = name[len("default."):]
    else:
        group = _rds._db_cluster_param_groups.get(name)
        if not group:
            return _err("DBClusterParameterGroupNotFound",
                        f"DBClusterParameterGroup not found: {name}", 404)
        found = group.get("DBParameterGroupFamily")
    if found != family:
        return _err(
            "InvalidParameterCombination",
            f"The Parameter Group {name} with DBParameterGroupFamily {found} cannot be used for "
            f"this instance. Please use a Parameter Group with DBParameterGroupFamily {family}",
        )
    return None


# ---------------------------------------------------------------------------
# Managed master password (Secrets Manager)
# ---------------------------------------------------------------------------

def _new_password():
    # 8-100 printable ASCII without / " @ (API_CreateDBCluster): token_urlsafe gives letters,
    # digits, - and _.
    return _stdlib_secrets.token_urlsafe(24)


def _create_master_secret(cluster, kms_key):
    password = _new_password()
    name = f"rds!cluster-{uuid.uuid4()}"
    arn = _sm.create_secret_in_process(
        name,
        json.dumps({"username": cluster.get("MasterUsername"), "password": password}),
        description=f"Secret managed by Amazon DocumentDB for cluster {cluster['DBClusterIdentifier']}",
    )
    kms = _key_arn(kms_key) or _aws_managed_key_arn("aws/secretsmanager")
    record = _sm._secrets.get(name)
    if record is not None:
        record["KmsKeyId"] = kms
    cluster["MasterUserSecret"] = {"SecretArn": arn, "SecretStatus": "active", "KmsKeyId": kms}
    cluster["_MasterUserPassword"] = password


def _delete_master_secret(cluster):
    secret = cluster.pop("MasterUserSecret", None)
    if secret and secret.get("SecretArn"):
        _sm.delete_secret_in_process(secret["SecretArn"])


# ---------------------------------------------------------------------------
# Clusters
# ---------------------------------------------------------------------------

_original = dict(docdb._ACTION_MAP)


def _create_db_cluster(params):
    cluster_id = _p(params, "DBClusterIdentifier")
    bad = _bad_identifier(cluster_id, "DBClusterIdentifier") or _check_cluster_settings(params)
    if bad:
        return bad
    if _p(params, "Engine") != "docdb":
        return _err("InvalidParameterValue", "Invalid DB engine: the engine must be docdb.")
    user = _p(params, "MasterUsername")
    if user and not re.match(r"^[A-Za-z][A-Za-z0-9]{0,62}$", user):
        return _err("InvalidParameterValue",
                    "MasterUsername must be 1 to 63 letters or numbers, the first a letter.")
    managed = _flag(params, "ManageMasterUserPassword")
    if managed and _p(params, "MasterUserPassword"):
        return _err("InvalidParameterCombination",
                    "You can't specify MasterUserPassword when ManageMasterUserPassword is enabled.")
    version = _p(params, "EngineVersion") or docdb.DEFAULT_ENGINE_VERSION
    group = _p(params, "DBClusterParameterGroupName")
    if group and version in docdb._DOCDB_ENGINE_VERSION_SET:
        bad = _check_parameter_group(group, version)
        if bad:
            return bad

    out = _original["CreateDBCluster"](params)
    if out[0] != 200:
        return out
    cluster = docdb._clusters[cluster_id]
    cluster["StorageType"] = _p(params, "StorageType") or "standard"
    cluster["EnabledCloudwatchLogsExports"] = _list_param(params, "EnableCloudwatchLogsExports")
    if cluster.get("StorageEncrypted"):
        # No KmsKeyId: the account's aws/rds key (DG encryption-at-rest.html).
        cluster["KmsKeyId"] = _key_arn(cluster.get("KmsKeyId")) or _aws_managed_key_arn("aws/rds")
    if managed:
        _create_master_secret(cluster, _p(params, "MasterUserSecretKmsKeyId"))
    # Continuous backups start with the cluster; its first automated snapshot is there at once.
    stamp = time.strftime("%Y-%m-%d-%H-%M", time.gmtime())
    _new_snapshot(f"rds:{cluster_id}-{stamp}", cluster, "automated", _copied_tags(cluster))
    return _cluster_response("CreateDBCluster", cluster)


def _modify_db_cluster(params):
    cluster_id = _p(params, "DBClusterIdentifier")
    cluster = docdb._clusters.get(cluster_id)
    if not cluster:
        return _err("DBClusterNotFoundFault", f"DBCluster {cluster_id} not found.", 404)
    bad = _check_cluster_settings(params)
    if bad:
        return bad
    version = _p(params, "EngineVersion") or cluster.get("EngineVersion")
    group = _p(params, "DBClusterParameterGroupName")
    if version != cluster.get("EngineVersion"):
        bad = docdb._engine_version_error(version)
        if bad:
            return bad
        if (version.split(".")[0] != str(cluster.get("EngineVersion")).split(".")[0]
                and not _flag(params, "AllowMajorVersionUpgrade")):
            return _err("InvalidParameterCombination",
                        "The AllowMajorVersionUpgrade flag must be present when upgrading to a new "
                        "major version.")
        current = cluster.get("DBClusterParameterGroup") or ""
        if not group and current.startswith("default."):
            # A cluster on a default group moves to the new family's default group.
            group = f"default.{_family(version)}"
            params["DBClusterParameterGroupName"] = [group]
        group = group or current
    if group:
        bad = _check_parameter_group(group, version)
        if bad:
            return bad
    managed = _flag(params, "ManageMasterUserPassword")
    password = _p(params, "MasterUserPassword")
    is_managed = bool(cluster.get("MasterUserSecret"))
    if managed and password:
        return _err("InvalidParameterCombination",
                    "You can't specify MasterUserPassword when ManageMasterUserPassword is enabled.")
    if managed is False and is_managed and not password:
        return _err("InvalidParameterCombination",
                    "You must specify MasterUserPassword when you turn off ManageMasterUserPassword.")
    if password and is_managed and managed is not False:
        return _err("InvalidParameterCombination",
                    "You can't specify MasterUserPassword for a cluster whose master user password "
                    "is managed in AWS Secrets Manager.")
    rotate = _flag(params, "RotateMasterUserPassword")
    if rotate and not (is_managed or managed):
        return _err("InvalidParameterCombination",
                    "You can only rotate the master user password when it is managed in AWS "
                    "Secrets Manager.")

    # ministack applies the rest (port, retention, windows, deletion protection, security groups,
    # engine version, copy-tags, password); ApplyImmediately only governs a rename and the
    # password (API_ModifyDBCluster), so everything here applies at once.
    out = _original["ModifyDBCluster"](params)
    if out[0] != 200:
        return out
    if group and group != cluster.get("DBClusterParameterGroup"):
        cluster["DBClusterParameterGroup"] = group
        # A new group reaches an instance at its next reboot.
        for m in _members_of(cluster):
            m["DBClusterParameterGroupStatus"] = "pending-reboot"
    if _p(params, "StorageType"):
        cluster["StorageType"] = _p(params, "StorageType")
    enable = _list_param(params, "CloudwatchLogsExportConfiguration.EnableLogTypes")
    disable = set(_list_param(params, "CloudwatchLogsExportConfiguration.DisableLogTypes"))
    if enable or disable:
        logs = [t for t in cluster.get("EnabledCloudwatchLogsExports", []) if t not in disable]
        cluster["EnabledCloudwatchLogsExports"] = logs + [t for t in enable if t not in logs]
    if managed and not is_managed:
        _create_master_secret(cluster, _p(params, "MasterUserSecretKmsKeyId"))
    elif managed is False and is_managed:
        _delete_master_secret(cluster)  # ministack has set the given password.
    elif rotate:
        new = _new_password()
        _sm.put_secret_value_in_process(
            cluster["MasterUserSecret"]["SecretArn"],
            json.dumps({"username": cluster.get("MasterUsername"), "password": new}),
        )
        cluster["_MasterUserPassword"] = new
    return _cluster_response("ModifyDBCluster", cluster)


def _delete_db_cluster(params):
    cluster_id = _p(params, "DBClusterIdentifier")
    cluster = docdb._clusters.get(cluster_id)
    if not cluster:
        return _err("DBClusterNotFoundFault", f"DBCluster {cluster_id} not found.", 404)
    # The request's own consistency first, then the cluster's state.
    skip = _flag(params, "SkipFinalSnapshot")  # false by default
    final_id = _p(params, "FinalDBSnapshotIdentifier")
    if skip and final_id:
        return _err("InvalidParameterCombination",
                    "You cannot specify both FinalDBSnapshotIdentifier and SkipFinalSnapshot")
    if not skip and not final_id:
        return _err("InvalidParameterCombination",
                    "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.")
    if cluster.get("DeletionProtection"):
        return _err("InvalidParameterCombination",
                    "Cannot delete protected Cluster, please disable deletion protection and try again.")
    if _members_of(cluster):
        return _err("InvalidDBClusterStateFault",
                    f"Cluster cannot be deleted, it still contains DB instances in non-deleting "
                    f"state. Delete the instances of {cluster_id} first.")
    if final_id:
        bad = _bad_identifier(final_id, "FinalDBSnapshotIdentifier")
        if bad:
            return bad
        if final_id in _rds._db_cluster_snapshots:
            return _err("DBClusterSnapshotAlreadyExistsFault",
                        f"Cannot create the cluster snapshot because one with the identifier "
                        f"{final_id} already exists.")
        _new_snapshot(final_id, cluster, "manual", _copied_tags(cluster))

    # Automated snapshots go with the cluster; manual ones (the final one too) stay.
    for snap_id, snap in list(_rds._db_cluster_snapshots.items()):
        if (snap.get("Engine") == "docdb" and snap.get("SnapshotType") == "automated"
                and snap.get("DBClusterIdentifier") == cluster_id):
            _drop_snapshot(snap_id)
    _delete_master_secret(cluster)
    docdb._remove_cluster_shared_resources(cluster_id, cluster)
    docdb._tags.pop(cluster["DBClusterArn"], None)
    del docdb._clusters[cluster_id]
    return _cluster_response("DeleteDBCluster", cluster, status="deleting")


def _failover_db_cluster(params):
    cluster_id = _p(params, "DBClusterIdentifier")
    cluster = docdb._clusters.get(cluster_id)
    if not cluster:
        return _err("DBClusterNotFoundFault", f"DBCluster {cluster_id} not found.", 404)
    if cluster.get("Status") != "available":
        return _err("InvalidDBClusterStateFault",
                    f"DBCluster {cluster_id} is in {cluster.get('Status')} state, not available.")
    members = _members_of(cluster)
    readers = [m for m in members if not m.get("IsClusterWriter")]
    target_id = _p(params, "TargetDBInstanceIdentifier")
    if target_id:
        target = _member(cluster, target_id)
        if not target and not docdb._resolve_instance(target_id):
            return _err("DBInstanceNotFound", f"DBInstance {target_id} not found.", 404)
        if not target or target.get("IsClusterWriter"):
            return _err("InvalidDBInstanceState",
                        f"DBInstance {target_id} is not a replica of DB cluster {cluster_id}.")
    elif readers:
        # Lowest promotion tier first (DG failover.html).
        target = min(readers, key=lambda m: int(m.get("PromotionTier", 1)))
    else:
        return _err("InvalidDBClusterStateFault",
                    f"DBCluster {cluster_id} has no replica instance to fail over to.")
    for m in members:
        m["IsClusterWriter"] = m is target
    # The response shows the failover under way; the next describe sees it done.
    return _cluster_response("FailoverDBCluster", cluster, status="failing-over")


# ---------------------------------------------------------------------------
# Instances
# ---------------------------------------------------------------------------

def _create_db_instance(params):
    db_id = _p(params, "DBInstanceIdentifier")
    bad = _bad_identifier(db_id, "DBInstanceIdentifier")
    if bad:
        return bad
    if _p(params, "Engine") != "docdb":
        return _err("InvalidParameterValue", "Invalid DB engine: the engine must be docdb.")
    cluster_id = _p(params, "DBClusterIdentifier")
    if not cluster_id:
        # Every DocumentDB instance belongs to a cluster (the parameter is required).
        return _err("InvalidParameterValue", "DBClusterIdentifier is required for a docdb instance.")
    tier = _int(params, "PromotionTier")
    if tier is not None and (tier == "bad" or not 0 <= tier <= 15):
        return _err("InvalidParameterValue", "PromotionTier must be from 0 to 15.")
    cluster = docdb._clusters.get(cluster_id)
    if cluster and not _p(params, "AvailabilityZone"):
        # AWS picks a zone; spread the instances over the cluster's zones.
        zones = cluster.get("AvailabilityZones") or [f"{get_region()}a"]
        used = [docdb._instances[m["DBInstanceIdentifier"]].get("AvailabilityZone")
                for m in _members_of(cluster) if m.get("DBInstanceIdentifier") in docdb._instances]
        params["AvailabilityZone"] = [min(zones, key=lambda z: (used.count(z), zones.index(z)))]

    out = _original["CreateDBInstance"](params)  # duplicate / unknown cluster errors are its
    if out[0] != 200:
        return out
    instance = docdb._instances[db_id]
    instance["PerformanceInsightsEnabled"] = bool(_flag(params, "EnablePerformanceInsights"))
    instance["PerformanceInsightsKMSKeyId"] = _p(params, "PerformanceInsightsKMSKeyId") or None
    if _p(params, "CACertificateIdentifier"):
        instance["CACertificateIdentifier"] = _p(params, "CACertificateIdentifier")
    member = _member(cluster, db_id)
    if member is not None:
        member["DBClusterParameterGroupStatus"] = "in-sync"  # born with the cluster's group
    return _instance_response("CreateDBInstance", instance)


def _delete_db_instance(params):
    db_id = _p(params, "DBInstanceIdentifier")
    instance = docdb._resolve_instance(db_id)
    if not instance:
        return _err("DBInstanceNotFound", f"DBInstance {db_id} not found.", 404)
    db_id = instance["DBInstanceIdentifier"]
    # No deletion-protection check: it guards the cluster, and even a protected cluster's last
    # instance can be deleted through the API (DG db-cluster-delete.html).
    cluster_id = instance.get("DBClusterIdentifier")
    if cluster_id:
        last = docdb._will_be_last_member(cluster_id, db_id)
        # Also promotes the replica with the lowest tier when the writer goes.
        docdb._unregister_instance_from_clusters(db_id)
        if last:
            docdb._log_readiness_teardown(cluster_id)
    else:
        docdb._remove_instance_container(db_id, instance)
    docdb._tags.pop(instance["DBInstanceArn"], None)
    del docdb._instances[db_id]
    return _instance_response("DeleteDBInstance", instance, status="deleting")


# Applied at the next maintenance window unless ApplyImmediately (API_ModifyDBInstance).
_DEFERRED = ("DBInstanceClass", "CACertificateIdentifier")


def _modify_db_instance(params):
    db_id = _p(params, "DBInstanceIdentifier")
    instance = docdb._resolve_instance(db_id)
    if not instance:
        return _err("DBInstanceNotFound", f"DBInstance {db_id} not found.", 404)
    tier = _int(params, "PromotionTier")
    if tier is not None and (tier == "bad" or not 0 <= tier <= 15):
        return _err("InvalidParameterValue", "PromotionTier must be from 0 to 15.")
    if _p(params, "NewDBInstanceIdentifier"):
        return _err("InvalidParameterValue",
                    "Renaming an instance (NewDBInstanceIdentifier) is not emulated here.")
    pending = instance.setdefault("PendingModifiedValues", {})
    for key in _DEFERRED:
        value = _p(params, key)
        if value:
            pending[key] = value
    if _flag(params, "ApplyImmediately"):
        # "...and any pending modifications are applied as soon as possible".
        for key in _DEFERRED:
            if key in pending:
                instance[key] = pending.pop(key)
                if key == "CACertificateIdentifier":
                    instance["CertificateDetails"] = {"CAIdentifier": instance[key],
                                                      "ValidTill": "2061-01-01T00:00:00Z"}
    for key in _DEFERRED:
        if pending.get(key) == instance.get(key):
            pending.pop(key)
    if tier is not None:
        instance["PromotionTier"] = tier
        cluster = docdb._clusters.get(instance.get("DBClusterIdentifier") or "")
        member = _member(cluster, instance["DBInstanceIdentifier"]) if cluster else None
        if member is not None:
            member["PromotionTier"] = tier
    if _p(params, "PreferredMaintenanceWindow"):
        instance["PreferredMaintenanceWindow"] = _p(params, "PreferredMaintenanceWindow")
    for key, field in (("AutoMinorVersionUpgrade", "AutoMinorVersionUpgrade"),
                       ("CopyTagsToSnapshot", "CopyTagsToSnapshot"),
                       ("EnablePerformanceInsights", "PerformanceInsightsEnabled")):
        if _flag(params, key) is not None:
            instance[field] = _flag(params, key)
    return _instance_response("ModifyDBInstance", instance)


def _reboot_db_instance(params):
    db_id = _p(params, "DBInstanceIdentifier")
    instance = docdb._resolve_instance(db_id)
    if not instance:
        return _err("DBInstanceNotFound", f"DBInstance {db_id} not found.", 404)
    if instance.get("DBInstanceStatus") != "available":
        return _err("InvalidDBInstanceState",
                    f"DBInstance {db_id} is in {instance.get('DBInstanceStatus')} state, not available.")
    cluster = docdb._clusters.get(instance.get("DBClusterIdentifier") or "")
    member = _member(cluster, instance["DBInstanceIdentifier"]) if cluster else None
    if member is not None:
        # The reboot applies the cluster parameter group's static values.
        member["DBClusterParameterGroupStatus"] = "in-sync"
        readers = [m for m in _members_of(cluster) if not m.get("IsClusterWriter")]
        if _flag(params, "ForceFailover") and member.get("IsClusterWriter") and readers:
            target = min(readers, key=lambda m: int(m.get("PromotionTier", 1)))
            for m in _members_of(cluster):
                m["IsClusterWriter"] = m is target
    return _instance_response("RebootDBInstance", instance, status="rebooting")


# ---------------------------------------------------------------------------
# Cluster snapshots, kept in ministack RDS's store (one RDS resource on AWS too)
# ---------------------------------------------------------------------------

def _copied_tags(cluster):
    if not cluster.get("CopyTagsToSnapshot"):
        return []
    return list(docdb._tags.get(cluster["DBClusterArn"], []))


def _new_snapshot(snap_id, cluster, snapshot_type, tags):
    arn = f"arn:aws:rds:{get_region()}:{get_account_id()}:cluster-snapshot:{snap_id}"
    snap = {
        "DBClusterSnapshotIdentifier": snap_id,
        "DBClusterIdentifier": cluster["DBClusterIdentifier"],
        "DBClusterSnapshotArn": arn,
        "Engine": "docdb",
        "EngineVersion": cluster.get("EngineVersion"),
        "SnapshotCreateTime": _now(),
        "ClusterCreateTime": cluster.get("ClusterCreateTime"),
        "Status": "available",
        "Port": cluster.get("Port", 27017),
        "MasterUsername": cluster.get("MasterUsername"),
        "SnapshotType": snapshot_type,
        "PercentProgress": 100,
        "StorageEncrypted": bool(cluster.get("StorageEncrypted")),
        "KmsKeyId": cluster.get("KmsKeyId", ""),
        "AvailabilityZones": list(cluster.get("AvailabilityZones", [])),
        "StorageType": cluster.get("StorageType", "standard"),
        "LicenseModel": "docdb",
        "TagList": list(tags),
        "DbClusterResourceId": cluster.get("DbClusterResourceId", ""),
    }
    group = _rds._subnet_groups.get(cluster.get("DBSubnetGroup") or "")
    if group and group.get("VpcId"):
        snap["VpcId"] = group["VpcId"]
    _rds._db_cluster_snapshots[snap_id] = snap
    if tags:
        _rds._tags[arn] = list(tags)
    return snap


def _drop_snapshot(snap_id):
    snap = _rds._db_cluster_snapshots.pop(snap_id)
    _rds._tags.pop(snap["DBClusterSnapshotArn"], None)
    return snap


def _docdb_snapshot(snap_id):
    snap = _rds._db_cluster_snapshots.get(snap_id) if snap_id else None
    return snap if snap and snap.get("Engine") == "docdb" else None


_original_rds_snapshot_xml = _rds._cluster_snapshot_xml


def _rds_cluster_snapshot_xml(s):
    """RDS's unfiltered DescribeDBClusterSnapshots (ftctl backup's listing) shows DocumentDB's
    snapshots as DocumentDB does."""
    return _snapshot_xml(s) if s.get("Engine") == "docdb" else _original_rds_snapshot_xml(s)


_rds._cluster_snapshot_xml = _rds_cluster_snapshot_xml


def _create_db_cluster_snapshot(params):
    snap_id = _p(params, "DBClusterSnapshotIdentifier")
    cluster_id = _p(params, "DBClusterIdentifier")
    bad = _bad_identifier(snap_id, "DBClusterSnapshotIdentifier")
    if bad:
        return bad
    cluster = docdb._clusters.get(cluster_id)
    if not cluster:
        return _err("DBClusterNotFoundFault", f"DBCluster {cluster_id} not found.", 404)
    if snap_id in _rds._db_cluster_snapshots:
        return _err("DBClusterSnapshotAlreadyExistsFault",
                    f"Cannot create the cluster snapshot because one with the identifier {snap_id} "
                    "already exists.")
    if cluster.get("Status") != "available":
        return _err("InvalidDBClusterStateFault",
                    f"DBCluster {cluster_id} is in {cluster.get('Status')} state, not available.")
    # Tags of the request; without any, the cluster's when it copies tags to snapshots.
    tags = docdb._parse_tags(params) or _copied_tags(cluster)
    snap = _new_snapshot(snap_id, cluster, "manual", tags)
    return _respond("CreateDBClusterSnapshot", "DBClusterSnapshot", _snapshot_xml(snap))


def _describe_db_cluster_snapshots(params):
    snap_id = _p(params, "DBClusterSnapshotIdentifier")
    cluster_id = _p(params, "DBClusterIdentifier")
    snapshot_type = _p(params, "SnapshotType")
    if snap_id:
        snap = _docdb_snapshot(snap_id)
        if not snap:
            return _err("DBClusterSnapshotNotFoundFault",
                        f"DBClusterSnapshot {snap_id} not found.", 404)
        snaps = [snap]
    else:
        snaps = [s for s in _rds._db_cluster_snapshots.values() if s.get("Engine") == "docdb"]
        if cluster_id:
            snaps = [s for s in snaps if s.get("DBClusterIdentifier") == cluster_id]
    if snapshot_type:
        # Without a type both manual and automated are listed; nothing is shared or public here.
        snaps = [s for s in snaps if s.get("SnapshotType") == snapshot_type]
    body = "".join(f"<DBClusterSnapshot>{_snapshot_xml(s)}</DBClusterSnapshot>" for s in snaps)
    return docdb._xml(200, "DescribeDBClusterSnapshotsResponse",
                      "<DescribeDBClusterSnapshotsResult><DBClusterSnapshots>"
                      f"{body}</DBClusterSnapshots></DescribeDBClusterSnapshotsResult>")


def _delete_db_cluster_snapshot(params):
    snap_id = _p(params, "DBClusterSnapshotIdentifier")
    snap = _docdb_snapshot(snap_id)
    if not snap:
        return _err("DBClusterSnapshotNotFoundFault", f"DBClusterSnapshot {snap_id} not found.", 404)
    if snap.get("SnapshotType") != "manual":
        return _err("InvalidDBClusterSnapshotStateFault",
                    "Only manual snapshots may be deleted; automated ones go with their cluster's "
                    "retention.")
    snap = dict(_drop_snapshot(snap_id), Status="deleted")
    return _respond("DeleteDBClusterSnapshot", "DBClusterSnapshot", _snapshot_xml(snap))


# ---------------------------------------------------------------------------
# Engine versions
# ---------------------------------------------------------------------------

def _describe_db_engine_versions(params):
    wanted = _p(params, "EngineVersion")
    family = _p(params, "DBParameterGroupFamily")
    default_only = _flag(params, "DefaultOnly")
    versions = list(docdb.DOCDB_ENGINE_VERSIONS)
    if wanted:
        versions = [v for v in versions if v == wanted or v.startswith(wanted + ".")]
    if family:
        versions = [v for v in versions if _family(v) == family]
    if default_only and versions:
        # The default of the engine (the latest major), or of the asked major: its latest.
        versions = ([docdb.DEFAULT_ENGINE_VERSION]
                    if not wanted and docdb.DEFAULT_ENGINE_VERSION in versions else versions[-1:])
    body = ""
    for v in versions:
        later = [u for u in docdb.DOCDB_ENGINE_VERSIONS
                 if tuple(map(int, u.split("."))) > tuple(map(int, v.split(".")))]
        targets = "".join(
            "<UpgradeTarget>" + _t("Engine", "docdb") + _t("EngineVersion", u)
            + _t("AutoUpgrade", False)
            + _t("IsMajorVersionUpgrade", u.split(".")[0] != v.split(".")[0]) + "</UpgradeTarget>"
            for u in later
        )
        body += ("<DBEngineVersion>" + _t("Engine", "docdb") + _t("EngineVersion", v)
                 + _t("DBParameterGroupFamily", _family(v))
                 + _t("DBEngineDescription", "Amazon DocumentDB (with MongoDB compatibility)")
                 + _t("DBEngineVersionDescription", f"DocumentDB version {v}")
                 + f"<ValidUpgradeTarget>{targets}</ValidUpgradeTarget>"
                 + _items("ExportableLogTypes", "member", ["audit", "profiler"])
                 + _t("SupportsLogExportsToCloudwatchLogs", True)
                 + "</DBEngineVersion>")
    return docdb._xml(200, "DescribeDBEngineVersionsResponse",
                      "<DescribeDBEngineVersionsResult><DBEngineVersions>"
                      f"{body}</DBEngineVersions></DescribeDBEngineVersionsResult>")


docdb._ACTION_MAP.update({
    "CreateDBCluster": _create_db_cluster,
    "ModifyDBCluster": _modify_db_cluster,
    "DeleteDBCluster": _delete_db_cluster,
    "FailoverDBCluster": _failover_db_cluster,
    "CreateDBInstance": _create_db_instance,
    "DeleteDBInstance": _delete_db_instance,
    "ModifyDBInstance": _modify_db_instance,
    "RebootDBInstance": _reboot_db_instance,
    "CreateDBClusterSnapshot": _create_db_cluster_snapshot,
    "DescribeDBClusterSnapshots": _describe_db_cluster_snapshots,
    "DeleteDBClusterSnapshot": _delete_db_cluster_snapshot,
    "DescribeDBEngineVersions": _describe_db_engine_versions,
})


# ---------------------------------------------------------------------------
# Routing: which rds-signed requests are DocumentDB's
# ---------------------------------------------------------------------------

_SNAPSHOT_ACTIONS = ("CreateDBClusterSnapshot", "DescribeDBClusterSnapshots", "DeleteDBClusterSnapshot")
_original_claims = docdb.claims_request


def claims_request(params):
    """ministack's rule (Engine=docdb, or a DocumentDB cluster/instance named by id or ARN), plus
    snapshot requests naming a DocumentDB cluster or snapshot. (Parameter and subnet groups stay
    RDS's: they are one store, patched below.)"""
    params = _normalize(dict(params))
    action = _p(params, "Action")
    if action in _SNAPSHOT_ACTIONS:
        cluster_id = _p(params, "DBClusterIdentifier")
        if cluster_id and (cluster_id in docdb._clusters or any(
                s.get("Engine") == "docdb" and s.get("DBClusterIdentifier") == cluster_id
                for s in _rds._db_cluster_snapshots.values())):
            return True
        return bool(_docdb_snapshot(_p(params, "DBClusterSnapshotIdentifier")))
    return _original_claims(params)


docdb.claims_request = claims_request  # the router imports it by name on every request
_original_handle = docdb._handle_request_sync


def _handle_request_sync(headers, params):
    _normalize(params)
    with _lock:
        return _original_handle(headers, params)


docdb._handle_request_sync = _handle_request_sync  # handle_request looks it up at call time


# ---------------------------------------------------------------------------
# Cluster parameter groups of the docdb families (RDS's handlers, one store on AWS too)
# ---------------------------------------------------------------------------

_FAMILIES = ("docdb3.6", "docdb4.0", "docdb5.0", "docdb8.0")
# tls1.2+/tls1.3+ from 4.0, fips-140-3 on 5.0 only (DG cluster_parameter_groups-list_of_parameters).
_TLS = {
    "docdb3.6": "enabled,disabled",
    "docdb4.0": "enabled,disabled,tls1.2+,tls1.3+",
    "docdb5.0": "enabled,disabled,fips-140-3,tls1.2+,tls1.3+",
    "docdb8.0": "enabled,disabled,tls1.2+,tls1.3+",
}


def _catalogue(family):
    """(name, default, allowed values, apply type, data type, description) of the family."""
    params = [
        ("audit_logs", "disabled", "enabled,disabled,ddl,dml_read,dml_write,all,none", "dynamic",
         "string", "Whether audit events are logged to Amazon CloudWatch Logs."),
        ("change_stream_log_retention_duration", "10800", "3600-604800", "dynamic", "integer",
         "How long, in seconds, the change stream log is kept."),
        ("profiler", "disabled", "enabled,disabled", "dynamic", "string",
         "Whether slow operations are logged to Amazon CloudWatch Logs."),
        ("profiler_sampling_rate", "1.0", "0.0-1.0", "dynamic", "float",
         "The share of slow operations logged."),
        ("profiler_threshold_ms", "100", "50-2147483646", "dynamic", "integer",
         "The duration, in milliseconds, from which an operation is slow."),
        ("tls", "enabled", _TLS[family], "static", "string",
         "Whether connections must use TLS, and which versions."),
        ("ttl_monitor", "enabled", "enabled,disabled", "dynamic", "string",
         "Whether documents past their TTL index expiry are deleted."),
    ]
    if family == "docdb5.0":
        params.append(("default_collection_compression", "disabled", "enabled,disabled", "dynamic",
                       "string", "Whether new collections are compressed by default."))
    return sorted(params)


def _docdb_group(name):
    """(family, stored group or None) of a docdb-family cluster parameter group, else None."""
    group = _rds._db_cluster_param_groups.get(name) if name else None
    if group:
        family = group.get("DBParameterGroupFamily", "")
        return (family, group) if family in _FAMILIES else None
    if name and name.startswith("default.") and name[len("default."):] in _FAMILIES:
        return name[len("default."):], None
    return None


def _valid_value(value, allowed, data_type):
    if data_type in ("integer", "float"):
        low, high = allowed.split("-")
        try:
            number = float(value) if data_type == "float" else int(value)
        except ValueError:
            return False
        return float(low) <= number <= float(high)
    return value in allowed.split(",")


_rds_original = dict(_rds._ACTION_MAP)


def _locked(handler):
    def run(params):
        with _lock:
            return handler(params)
    return run


def _create_cluster_parameter_group(params):
    family = _rds._p(params, "DBParameterGroupFamily")
    if family.startswith("docdb") and family not in _FAMILIES:
        return _err("InvalidParameterValue", f"DBParameterGroupFamily {family} is not valid for docdb.")
    return _rds_original["CreateDBClusterParameterGroup"](params)


def _describe_cluster_parameter_groups(params):
    name = _rds._p(params, "DBClusterParameterGroupName")
    found = _docdb_group(name)
    if found and found[1] is None:
        # default.docdbX.Y: there on AWS without being created.
        family = found[0]
        arn = f"arn:aws:rds:{get_region()}:{get_account_id()}:cluster-pg:{name}"
        group = ("<DBClusterParameterGroup>" + _t("DBClusterParameterGroupName", name)
                 + _t("DBParameterGroupFamily", family)
                 + _t("Description", f"Default cluster parameter group for {family}")
                 + _t("DBClusterParameterGroupArn", arn) + "</DBClusterParameterGroup>")
        return docdb._xml(200, "DescribeDBClusterParameterGroupsResponse",
                          "<DescribeDBClusterParameterGroupsResult><DBClusterParameterGroups>"
                          f"{group}</DBClusterParameterGroups></DescribeDBClusterParameterGroupsResult>")
    return _rds_original["DescribeDBClusterParameterGroups"](params)


def _describe_cluster_parameters(params):
    name = _rds._p(params, "DBClusterParameterGroupName")
    found = _docdb_group(name)
    if not found:
        return _rds_original["DescribeDBClusterParameters"](params)
    family, group = found
    user = (group or {}).get("Parameters", {})
    # Source: `user` = the values set in this group; `system`/`engine-default` = the defaults;
    # absent (or anything else) = all.
    source = _rds._p(params, "Source")
    body = ""
    for name_, default, allowed, apply_type, data_type, description in _catalogue(family):
        mine = user.get(name_)
        origin = "user" if mine else "system"
        if source == "user" and origin != "user":
            continue
        if source in ("system", "engine-default") and origin == "user":
            continue
        body += ("<Parameter>" + _t("ParameterName", name_)
                 + _t("ParameterValue", mine["ParameterValue"] if mine else default)
                 + _t("Description", description) + _t("Source", origin)
                 + _t("ApplyType", apply_type) + _t("DataType", data_type)
                 + _t("AllowedValues", allowed) + _t("IsModifiable", True)
                 # AWS reports pending-reboot for a static parameter whatever was sent.
                 + _t("ApplyMethod", "pending-reboot" if not mine or apply_type == "static"
                      else mine.get("ApplyMethod", "immediate"))
                 + "</Parameter>")
    return docdb._xml(200, "DescribeDBClusterParametersResponse",
                      "<DescribeDBClusterParametersResult><Parameters>"
                      f"{body}</Parameters></DescribeDBClusterParametersResult>")


def _modify_cluster_parameter_group(params):
    name = _rds._p(params, "DBClusterParameterGroupName")
    found = _docdb_group(name)
    if not found:
        return _rds_original["ModifyDBClusterParameterGroup"](params)
    family, group = found
    if group is None:
        return _err("InvalidParameterValue", "Cannot modify a default parameter group.")
    catalogue = {c[0]: c for c in _catalogue(family)}
    prefix = _rds._parameter_member_prefix(params)
    index, reboot = 1, False
    while _rds._p(params, f"{prefix}.{index}.ParameterName"):
        pname = _rds._p(params, f"{prefix}.{index}.ParameterName")
        value = _rds._p(params, f"{prefix}.{index}.ParameterValue")
        method = _rds._p(params, f"{prefix}.{index}.ApplyMethod")
        entry = catalogue.get(pname)
        if not entry:
            return _err("InvalidParameterValue", f"Could not find parameter with name: {pname}")
        _, _, allowed, apply_type, data_type, _ = entry
        if not _valid_value(value, allowed, data_type):
            return _err("InvalidParameterValue",
                        f"Value: {value} is not a valid value for parameter: {pname}. "
                        f"Allowed values: {allowed}")
        if apply_type == "static" and method == "immediate":
            return _err("InvalidParameterCombination",
                        f"cannot use immediate apply method for static parameter {pname}")
        if method and method not in ("immediate", "pending-reboot"):
            return _err("InvalidParameterValue", f"Invalid ApplyMethod {method}.")
        if not method:
            params[f"{prefix}.{index}.ApplyMethod"] = [
                "pending-reboot" if apply_type == "static" else "immediate"]
        reboot = reboot or apply_type == "static" or method == "pending-reboot"
        index += 1
    if index > 21:
        return _err("InvalidParameterValue", "At most 20 parameters can be modified in one request.")
    out = _rds_original["ModifyDBClusterParameterGroup"](params)
    if out[0] == 200 and reboot:
        # The members of the clusters using the group get the change at their next reboot.
        for cluster in docdb._clusters.values():
            if cluster.get("DBClusterParameterGroup") == name:
                for m in _members_of(cluster):
                    m["DBClusterParameterGroupStatus"] = "pending-reboot"
    return out


def _delete_cluster_parameter_group(params):
    name = _rds._p(params, "DBClusterParameterGroupName")
    if name.startswith("default.") and _docdb_group(name):
        return _err("InvalidDBParameterGroupState", f"Default DBParameterGroup cannot be deleted: {name}")
    users = [c["DBClusterIdentifier"] for c in docdb._clusters.values()
             if c.get("DBClusterParameterGroup") == name]
    if users:
        return _err("InvalidDBParameterGroupState",
                    f"Cannot delete parameter group {name}: it is in use by cluster(s) "
                    f"{', '.join(users)}.")
    return _rds_original["DeleteDBClusterParameterGroup"](params)


_rds._ACTION_MAP.update({
    "CreateDBClusterParameterGroup": _locked(_create_cluster_parameter_group),
    "DescribeDBClusterParameterGroups": _locked(_describe_cluster_parameter_groups),
    "DescribeDBClusterParameters": _locked(_describe_cluster_parameters),
    "ModifyDBClusterParameterGroup": _locked(_modify_cluster_parameter_group),
    "DeleteDBClusterParameterGroup": _locked(_delete_cluster_parameter_group),
})
