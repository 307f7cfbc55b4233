/*
id: cloudtrail_ebs_snapshot_shared
title: EBS snapshot shared with another account or made public
description: >-
  A successful ModifySnapshotAttribute added create-volume permission on an
  EBS snapshot: to group "all" (public, anyone can create a volume from it)
  or to another AWS account (userId). A shared snapshot lets the other
  account copy the full disk, a common way to exfiltrate data from AWS
  without touching the network. Removing permissions is not reported.
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
  1. Read request_parameters: createVolumePermission.add items (group all
     = public; userId = the receiving account). Check whether the account
     belongs to your organization (`aws organizations describe-account
     --account-id <id>` from the management account).
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
  - Cross-account backup, disaster recovery or migration to your own
    accounts (AWS Backup copies, CloudEndure / MGN), under a change ticket.
references:
  - https://docs.aws.amazon.com/ebs/latest/userguide/ebs-modifying-snapshot-permissions.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySnapshotAttribute.html
  - https://attack.mitre.org/techniques/T1537/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      ModifySnapshotAttribute is an operation of EC2 only: no other service
      model in botocore 1.43 has an operation of that name (Lightsail and
      RDS snapshots have their own APIs), so eventname =
      'ModifySnapshotAttribute' already implies eventsource
      ec2.amazonaws.com.
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
    json_extract_scalar(requestparameters, '$.snapshotId') AS target,
    coalesce(
        json_extract_scalar(
            requestparameters, '$.createVolumePermission.add.items[0].group'
        ),
        json_extract_scalar(
            requestparameters, '$.createVolumePermission.add.items[0].userId'
        )
    ) AS shared_with
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ec2.amazonaws.com'
    AND eventname = 'ModifySnapshotAttribute'
    AND errorcode IS NULL
    -- An account (userId) or the group "all" (every AWS account), the one group EC2 defines; any other
    -- group value makes nothing public.
    AND regexp_like(
        requestparameters,
        '"add"\s*:\s*\{\s*"items"\s*:\s*\[\s*\{[^\]]*("userId"\s*:|"group"\s*:\s*"(?i:all)")'
    )
