/*
id: cloudtrail_rds_snapshot_shared
title: RDS snapshot shared with an unknown account or made public
description: >-
  A successful ModifyDBSnapshotAttribute or ModifyDBClusterSnapshotAttribute
  with attributeName restore that adds (valuesToAdd) "all", which makes the
  manual DB or cluster snapshot public, or an account id that is neither
  the snapshot's account nor on the reviewed list
  sql/lookups/known_accounts.yaml, which lets that account restore or copy
  the database. Sharing snapshots is a known way to exfiltrate whole
  databases from RDS and Aurora without network traffic. Shares with the
  organization's own accounts (disaster recovery, migrations) and calls
  that only remove values are not reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0010:T1537
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read shared_with ("all" = public, otherwise the account ids outside
     the reviewed list) and check whether each account is one of yours
     (`aws organizations describe-account --account-id <id>` from the
     management account); a new account of the organization or a reviewed
     vendor belongs in sql/lookups/known_accounts.yaml, not in a
     suppression.
  2. Check the snapshot now: `aws rds describe-db-snapshot-attributes
     --db-snapshot-identifier <target>` (or `aws rds
     describe-db-cluster-snapshot-attributes
     --db-cluster-snapshot-identifier <target>`) and which database it is
     from and whether it is encrypted (`aws rds describe-db-snapshots
     --db-snapshot-identifier <target>`; an encrypted snapshot also needs a
     KMS key grant to be usable, public sharing is impossible).
  3. Ask the actor's team for the change ticket (cross-account backup or
     migration).
  4. If unplanned: revoke (`aws rds modify-db-snapshot-attribute
     --db-snapshot-identifier <target> --attribute-name restore
     --values-to-remove <id|all>`), treat the data as exposed, rotate
     database credentials stored in it, and contain the actor.
false_positives:
  - Cross-account backup, disaster recovery or migration to an account of
    the organization not yet on sql/lookups/known_accounts.yaml.
references:
  - https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ShareSnapshot.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBSnapshotAttribute.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBClusterSnapshotAttribute.html
  - https://attack.mitre.org/techniques/T1537/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop shares.where: eventsource = 'rds.amazonaws.com'"
    reason: >-
      ModifyDBSnapshotAttribute exists only in RDS and
      ModifyDBClusterSnapshotAttribute only in RDS, Neptune and DocumentDB per
      the AWS SDK service models (botocore 1.43), and Neptune and DocumentDB
      management calls are logged with eventsource rds.amazonaws.com, so the
      eventname list already implies it.
  - mutant: "drop shares.where: eventname IN ('ModifyDBSnapshotAttribute', 'ModifyDBClusterSnapshotAttribute')"
    reason: >-
      The other conditions need attributeName and a value in a valuesToAdd
      list in the request. Per the AWS SDK service models (botocore 1.43), the only RDS,
      Neptune and DocumentDB operations whose request has AttributeName and
      ValuesToAdd are ModifyDBSnapshotAttribute and
      ModifyDBClusterSnapshotAttribute, so no other rds.amazonaws.com event
      can pass them.
  - mutant: "drop shares.where: LOWER(JSON_EXTRACT_SCALAR(requestparameters, '$.attributeName')) = 'restore'"
    reason: >-
      restore is the only attribute of a DB or DB cluster snapshot that these
      two calls can modify (the API reference names no other, and
      DescribeDBSnapshotAttributes / DescribeDBClusterSnapshotAttributes list
      only restore); a call naming another attribute is rejected by RDS, so it
      carries an errorCode and errorcode IS NULL already removes it. The
      condition is kept as a guard should AWS add attributes.
*/
WITH shares AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        eventname,
        awsregion,
        useragent,
        requestparameters,
        eventid,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        {{ principal() }} AS principal,
        coalesce(
            json_extract_scalar(requestparameters, '$.dBSnapshotIdentifier'),
            json_extract_scalar(requestparameters, '$.dBClusterSnapshotIdentifier')
        ) AS target,
        -- The quoted values of the valuesToAdd list: account ids or "all".
        regexp_extract_all(
            coalesce(regexp_extract(requestparameters, '"valuesToAdd"\s*:\s*\[([^\]]*)\]', 1), ''),
            '"([^"]*)"',
            1
        ) AS added
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource = 'rds.amazonaws.com'
        AND eventname IN (
            'ModifyDBSnapshotAttribute', 'ModifyDBClusterSnapshotAttribute'
        )
        AND errorcode IS NULL
        AND lower(json_extract_scalar(requestparameters, '$.attributeName')) = 'restore'
)

-- "all" is never an account id nor on the reviewed list, so a public share is always reported.
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    eventid AS event_id,
    actor,
    principal,
    target,
    array_join(
        filter(added, v -> v <> account_id AND NOT contains({{ lookup('known_accounts') }}, v)),
        ', '
    ) AS shared_with
FROM shares
WHERE
    cardinality(
        filter(added, v -> v <> account_id AND NOT contains({{ lookup('known_accounts') }}, v))
    ) > 0
