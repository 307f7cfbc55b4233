/*
id: cloudtrail_rds_snapshot_shared
title: RDS snapshot shared with another account or made public
description: >-
  A successful ModifyDBSnapshotAttribute or ModifyDBClusterSnapshotAttribute
  with attributeName restore added values (valuesToAdd): "all" makes the
  manual DB or cluster snapshot public, an account id lets that account
  restore or copy the database. Sharing snapshots is a known way to
  exfiltrate whole databases from RDS and Aurora without network traffic.
  Calls that only remove values are not reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0010:T1537
dedup:
  keys: [account_id, actor]
  period: 1h
threshold: 1
runbook: |-
  1. Read request_parameters: valuesToAdd ("all" = public, otherwise
     account ids) and check whether each account is one of yours (`aws
     organizations describe-account --account-id <id>` from the management
     account).
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
  - Cross-account backup, disaster recovery or migration to your own
    accounts, under a change ticket.
references:
  - https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ShareSnapshot.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBSnapshotAttribute.html
  - https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBClusterSnapshotAttribute.html
  - https://attack.mitre.org/techniques/T1537/
owner: security-engineering
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    coalesce(
        json_extract_scalar(requestparameters, '$.dBSnapshotIdentifier'),
        json_extract_scalar(requestparameters, '$.dBClusterSnapshotIdentifier')
    ) AS target,
    json_extract_scalar(requestparameters, '$.valuesToAdd[0]') AS shared_with
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'rds.amazonaws.com'
    AND eventname IN (
        'ModifyDBSnapshotAttribute', 'ModifyDBClusterSnapshotAttribute'
    )
    AND errorcode IS NULL
    AND lower(json_extract_scalar(requestparameters, '$.attributeName')) = 'restore'
    AND regexp_like(requestparameters, '"valuesToAdd"\s*:\s*\[\s*"')
