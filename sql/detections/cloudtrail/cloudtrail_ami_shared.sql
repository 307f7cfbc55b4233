/*
id: cloudtrail_ami_shared
title: AMI shared with another account or made public
description: >-
  A successful ModifyImageAttribute added a launch permission on an AMI: to
  group "all" (public, listed for every AWS customer) or to another AWS
  account (userId). An AMI carries full disk snapshots, often with
  application code, configuration and secrets baked in; sharing it lets the
  other account launch or copy it. Sharing with an organization or
  organizational unit ARN (organizationArn, organizationalUnitArn) is the
  usual way to distribute golden images inside an organization and is not
  reported; removing permissions is not reported.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0010:T1537
dedup:
  keys: [account_id, actor]
  period: 1h
threshold: 1
runbook: |-
  1. Read request_parameters: launchPermission.add items (group all =
     public; userId = the receiving account) and check whether the account
     is one of yours (`aws organizations describe-account --account-id
     <id>` from the management account).
  2. Check the AMI now: `aws ec2 describe-image-attribute --image-id
     <target> --attribute launchPermission --region <aws_region>` and what
     it is (`aws ec2 describe-images --image-ids <target>`: name, source
     instance, block device snapshots).
  3. Ask the actor's team for the change ticket (image pipeline sharing to
     workload accounts).
  4. If unplanned: revoke (`aws ec2 modify-image-attribute --image-id
     <target> --launch-permission 'Remove=[{UserId=<id>}]'` or
     `'Remove=[{Group=all}]'`), treat secrets on the image as exposed and
     rotate them, contain the actor, and enable AMI block public access
     (`aws ec2 enable-image-block-public-access
     --image-block-public-access-state block-new-sharing`).
false_positives:
  - Image pipelines sharing AMIs with workload accounts by account id.
  - Vendors or open-source projects publishing public AMIs on purpose.
references:
  - https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/sharingamis-explicit.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyImageAttribute.html
  - https://attack.mitre.org/techniques/T1537/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      ModifyImageAttribute is an operation of EC2 only: no other service
      model in botocore 1.43 has an operation of that name, so eventname =
      'ModifyImageAttribute' already implies eventsource ec2.amazonaws.com.
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
    json_extract_scalar(requestparameters, '$.imageId') AS target,
    coalesce(
        json_extract_scalar(
            requestparameters, '$.launchPermission.add.items[0].group'
        ),
        json_extract_scalar(
            requestparameters, '$.launchPermission.add.items[0].userId'
        )
    ) AS shared_with
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ec2.amazonaws.com'
    AND eventname = 'ModifyImageAttribute'
    AND errorcode IS NULL
    -- An account (userId) or the group "all" (every AWS account), the one group EC2 defines; any other
    -- group value makes nothing public.
    AND regexp_like(
        requestparameters,
        '"add"\s*:\s*\{\s*"items"\s*:\s*\[\s*\{[^\]]*("userId"\s*:|"group"\s*:\s*"(?i:all)")'
    )
