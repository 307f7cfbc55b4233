/*
id: cloudtrail_ebs_snapshot_shared
title: EBS snapshot shared with another account or made public
description: >-
  A successful ModifySnapshotAttribute added create-volume permission on an
  EBS snapshot: to group "all" (public, anyone can create a volume from it)
  or to an AWS account (userId) that is neither the snapshot's own nor on
  the reviewed list sql/lookups/known_accounts.yaml. A shared snapshot lets
  the other account copy the full disk, a common way to exfiltrate data
  from AWS without touching the network. Every item of the added list is
  read, so an unknown account listed after known ones is reported, and
  shared_with names "all" and each unknown account. Any other group value
  makes nothing public and is not reported, nor is removing permissions.
  Shares with the organization's own accounts (cross-account backup,
  disaster recovery) are quiet once they are on the reviewed list.
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
  1. Read shared_with ("all" = public, otherwise the accounts outside the
     reviewed list) and check whether each account belongs to your
     organization (`aws organizations describe-account --account-id <id>`
     from the management account); a new account of the organization or a
     reviewed vendor belongs in sql/lookups/known_accounts.yaml, not in a
     suppression.
  2. Check the snapshot now: `aws ec2 describe-snapshot-attribute
     --snapshot-id <target> --attribute createVolumePermission --region
     <aws_region>` and what it contains (`aws ec2 describe-snapshots
     --snapshot-ids <target>`: source volume, description, encryption and
     KMS key; an encrypted snapshot also needs a key grant to be usable).
  3. Ask the actor's team for the change ticket (cross-account backup or
     migration).
  4. If unplanned: revoke (`aws ec2 modify-snapshot-attribute --snapshot-id
     <target> --attribute createVolumePermission --operation-type remove
     --user-ids <id>` or `--group-names all`), treat the data as exposed,
     look for CreateVolume / CopySnapshot by the foreign account (in its
     own trail, if reachable), contain the actor, and consider enabling EBS
     snapshot block public access.
false_positives:
  - Cross-account backup, disaster recovery or migration to an account of
    the organization not yet on sql/lookups/known_accounts.yaml (AWS Backup
    copies, CloudEndure / MGN).
references:
  - https://docs.aws.amazon.com/ebs/latest/userguide/ebs-modifying-snapshot-permissions.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySnapshotAttribute.html
  - https://attack.mitre.org/techniques/T1537/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop shares.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      ModifySnapshotAttribute is an operation of EC2 only: no other service
      model in botocore 1.43 has an operation of that name (Lightsail and
      RDS snapshots have their own APIs), so eventname =
      'ModifySnapshotAttribute' already implies eventsource
      ec2.amazonaws.com.
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
        json_extract_scalar(requestparameters, '$.snapshotId') AS target,
        -- The items of the createVolumePermission.add list, in which each item is one object: an account (userId),
        -- a group, an organization or an organizational unit.
        coalesce(
            regexp_extract(requestparameters, '"add"\s*:\s*\{\s*"items"\s*:\s*\[([^\]]*)\]', 1), ''
        ) AS added
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource = 'ec2.amazonaws.com'
        AND eventname = 'ModifySnapshotAttribute'
        AND errorcode IS NULL
),

-- "all" for the group "all" (every AWS account), the one group EC2 defines (any other group value makes nothing
-- public), then each account that is neither the snapshot's own nor on the reviewed list.
exposures AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        eventname,
        awsregion,
        useragent,
        requestparameters,
        eventid,
        actor,
        principal,
        target,
        concat(
            transform(regexp_extract_all(added, '"group"\s*:\s*"((?i:all))"', 1), g -> lower(g)),
            filter(
                regexp_extract_all(added, '"userId"\s*:\s*"([^"]*)"', 1),
                u -> u <> account_id AND NOT contains({{ lookup('known_accounts') }}, u)
            )
        ) AS outside
    FROM shares
)

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
    array_join(array_distinct(outside), ', ') AS shared_with
FROM exposures
WHERE cardinality(outside) > 0
