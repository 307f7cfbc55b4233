/*
id: cloudtrail_ami_shared
title: AMI shared with another account or made public
description: >-
  A successful ModifyImageAttribute added a launch permission on an AMI: to
  group "all" (public, listed for every AWS customer) or to an AWS account
  (userId) that is neither the AMI's own nor on the reviewed list
  sql/lookups/known_accounts.yaml. An AMI carries full disk snapshots,
  often with application code, configuration and secrets baked in; sharing
  it lets the other account launch or copy it. Every item of the added list
  is read, so an unknown account listed after known ones is reported, and
  shared_with names "all" and each unknown account. Any other group value
  makes nothing public and is not reported; sharing with an organization or
  organizational unit ARN (organizationArn, organizationalUnitArn) is the
  usual way to distribute golden images inside an organization and is not
  reported, nor is removing permissions. Sharing with the organization's
  own accounts (image pipelines) is quiet once they are on the reviewed
  list.
severity: medium
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
     reviewed list) and check whether each account is one of yours (`aws
     organizations describe-account --account-id <id>` from the
     management account); a new account of the organization or a reviewed
     vendor belongs in sql/lookups/known_accounts.yaml, not in a
     suppression.
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
  - Image pipelines sharing AMIs with a workload account of the
    organization not yet on sql/lookups/known_accounts.yaml.
  - Vendors or open-source projects publishing public AMIs on purpose.
references:
  - https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/sharingamis-explicit.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyImageAttribute.html
  - https://attack.mitre.org/techniques/T1537/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop shares.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      ModifyImageAttribute is an operation of EC2 only: no other service
      model in botocore 1.43 has an operation of that name, so eventname =
      'ModifyImageAttribute' already implies eventsource ec2.amazonaws.com.
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
        json_extract_scalar(requestparameters, '$.imageId') AS target,
        -- The items of the launchPermission.add list, in which each item is one object: an account (userId),
        -- a group, an organization or an organizational unit.
        coalesce(
            regexp_extract(requestparameters, '"add"\s*:\s*\{\s*"items"\s*:\s*\[([^\]]*)\]', 1), ''
        ) AS added
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource = 'ec2.amazonaws.com'
        AND eventname = 'ModifyImageAttribute'
        AND errorcode IS NULL
),

-- "all" for the group "all" (every AWS account), the one group EC2 defines (any other group value makes nothing
-- public), then each account that is neither the AMI's own nor on the reviewed list.
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
