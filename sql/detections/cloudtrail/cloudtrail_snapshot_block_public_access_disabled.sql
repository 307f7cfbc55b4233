/*
id: cloudtrail_snapshot_block_public_access_disabled
title: Block public access for EBS snapshots or AMIs turned off
description: >-
  The account-and-region setting that stops EBS snapshots or AMIs being
  shared publicly was turned off: DisableSnapshotBlockPublicAccess,
  EnableSnapshotBlockPublicAccess with state unblocked, or
  DisableImageBlockPublicAccess. With it on, a ModifySnapshotAttribute or
  ModifyImageAttribute adding the group all fails; turning it off first is
  the step before making a disk image public for download (the share
  itself is cloudtrail_ebs_snapshot_shared or cloudtrail_ami_shared).
  Denied and failed attempts are reported too: a stolen key trying to
  remove the guard is the signal. Turning it on (block-all-sharing,
  block-new-sharing, EnableImageBlockPublicAccess) is not reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562
  - TA0010:T1537
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read event_name, aws_region and error_code: which guard, in which
     region, and did the call succeed?
  2. Check the setting now (`aws ec2 get-snapshot-block-public-access-state`,
     `aws ec2 get-image-block-public-access-state`) and look for public
     shares since event_time: SELECT event_time, eventname,
     requestparameters FROM cloudtrail WHERE eventname IN
     ('ModifySnapshotAttribute', 'ModifyImageAttribute') AND account_id =
     '<account_id>'.
  3. Ask the account owner for the change ticket (publishing a public AMI
     is rare and planned).
  4. If unplanned: turn the guard back on (`aws ec2
     enable-snapshot-block-public-access --state block-all-sharing`),
     remove public shares, contain the actor, and enforce the setting with
     a declarative policy or an SCP.
false_positives:
  - A team publishing a public AMI or a public data set snapshot, under a
    change ticket.
references:
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DisableSnapshotBlockPublicAccess.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableSnapshotBlockPublicAccess.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DisableImageBlockPublicAccess.html
  - https://attack.mitre.org/techniques/T1537/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      Per the AWS SDK service models (botocore 1.43) DisableSnapshotBlockPublicAccess,
      DisableImageBlockPublicAccess and EnableSnapshotBlockPublicAccess are
      operations of EC2 only, so the eventname list already implies the source.
  - mutant: "negate main.where: eventname = 'EnableSnapshotBlockPublicAccess'"
    reason: >-
      In the EC2 service model (botocore 1.43) the only request member that
      accepts the value unblocked is EnableSnapshotBlockPublicAccess.State
      (SnapshotBlockPublicAccessState); no other EC2 call can carry a State
      of unblocked in its request, so the state test already implies the
      eventname.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    concat(account_id, ':', awsregion) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ec2.amazonaws.com'
    AND (
        eventname IN (
            'DisableSnapshotBlockPublicAccess', 'DisableImageBlockPublicAccess'
        )
        OR (
            eventname = 'EnableSnapshotBlockPublicAccess'
            AND regexp_like(
                coalesce(requestparameters, ''),
                '"[Ss]tate"\s*:\s*"unblocked"'
            )
        )
    )
