/*
id: cloudtrail_dynamodb_table_exported
title: DynamoDB table exported to S3
description: >-
  An ExportTableToPointInTime call: a full copy of a DynamoDB table written
  to an S3 bucket, in one API call and without a single read the table's
  metrics would show. Exporting a table is how an intruder with DynamoDB
  and S3 permissions collects a whole data store at once, and an export to
  a bucket owned by another account (s3BucketOwner) moves it out of the
  organization directly; target_bucket_owner says which. Denied and failed
  attempts are reported too: a stolen key trying to export a table is the
  signal. Exports started by an AWS service for a principal (source address
  the service's name) are not reported, nor reading the status of exports
  (DescribeExport, ListExports) or importing a table from S3.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0009:T1530
  - TA0010:T1537
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read target (the table), target_bucket, target_bucket_owner and
     error_code: which table went where, and did the export start?
  2. Check the export: `aws dynamodb describe-export --export-arn <arn>`
     (from `aws dynamodb list-exports --table-arn <target>`), and whose
     bucket it is (an account outside the organization is exfiltration).
  3. Ask the table's owner for the job (an analytics pipeline exporting to
     its lake bucket on a schedule, under a role of its own).
  4. If unexplained: delete the exported objects if the bucket is yours,
     contain the actor, and look for reads of the export prefix and for
     other exports since event_time (`mamori search <actor>`).
false_positives:
  - An analytics or data-lake pipeline exporting tables on a schedule
    (suppress its role).
  - A migration copying a table to another account of the organization.
references:
  - https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ExportTableToPointInTime.html
  - https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.HowItWorks.html
  - https://attack.mitre.org/techniques/T1530/
  - https://attack.mitre.org/techniques/T1537/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'dynamodb.amazonaws.com'"
    reason: >-
      Per the AWS SDK service models (botocore 1.43) ExportTableToPointInTime
      is an operation of DynamoDB only (DynamoDB Streams, DAX and Keyspaces
      have no such operation), so the eventname already implies the source.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.tableArn') AS target,
    json_extract_scalar(requestparameters, '$.s3Bucket') AS target_bucket,
    coalesce(
        json_extract_scalar(requestparameters, '$.s3BucketOwner'), account_id
    ) AS target_bucket_owner
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'dynamodb.amazonaws.com'
    AND eventname = 'ExportTableToPointInTime'
    -- An AWS service acting for a principal is recorded with the service's name as source address; a person's
    -- or a key's call carries an IP address.
    AND sourceipaddress NOT LIKE '%.amazonaws.com'
