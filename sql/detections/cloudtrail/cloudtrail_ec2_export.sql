/*
id: cloudtrail_ec2_export
title: EC2 instance or AMI exported out of EC2
description: >-
  A successful CreateInstanceExportTask (instance exported as a VM image to
  an S3 bucket), ExportImage (AMI exported as a VM image to S3) or
  CreateStoreImageTask (AMI stored as an object in S3). Each copies a whole
  disk image into S3, from where it can be downloaded or read by another
  account if the bucket allows it: a way to exfiltrate the data and
  secrets on an instance's disks. The destination bucket is returned as
  s3_bucket.
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
  1. Find the task and destination: s3_bucket and request_parameters; then
     `aws ec2 describe-export-tasks`, `aws ec2 describe-export-image-tasks`
     or `aws ec2 describe-store-image-tasks`.
  2. Check who owns the bucket and whether it is public or shared with
     another account (`aws s3api get-bucket-policy --bucket <s3_bucket>`,
     `aws s3api get-bucket-acl --bucket <s3_bucket>`).
  3. Ask the actor's team for the migration or backup ticket.
  4. If unexplained: cancel running tasks (`aws ec2 cancel-export-task
     --export-task-id <id>`), delete the exported objects after preserving
     evidence, rotate secrets stored on the exported disks, and contain the
     actor.
false_positives:
  - VM migrations to on-premises or other clouds using VM Import/Export.
  - Archiving AMIs to S3 (CreateStoreImageTask) by backup tooling.
references:
  - https://docs.aws.amazon.com/vm-import/latest/userguide/vmexport.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateInstanceExportTask.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ExportImage.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateStoreImageTask.html
  - https://attack.mitre.org/techniques/T1537/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      CreateInstanceExportTask, ExportImage and CreateStoreImageTask are
      operations of EC2 only: no other service model in botocore 1.43 has an
      operation of any of those names (Lightsail's is ExportSnapshot, VM
      Import/Export runs through EC2), so the eventname list already implies
      eventsource ec2.amazonaws.com.
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
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.instanceId'),
        json_extract_scalar(requestparameters, '$.ExportImageRequest.ImageId'),
        json_extract_scalar(requestparameters, '$.imageId'),
        json_extract_scalar(
            requestparameters, '$.CreateStoreImageTaskRequest.ImageId'
        )
    ) AS target,
    coalesce(
        json_extract_scalar(
            requestparameters, '$.exportToS3.s3Bucket'
        ),
        json_extract_scalar(
            requestparameters, '$.ExportImageRequest.S3ExportLocation.S3Bucket'
        ),
        json_extract_scalar(requestparameters, '$.bucket'),
        json_extract_scalar(
            requestparameters, '$.CreateStoreImageTaskRequest.Bucket'
        )
    ) AS s3_bucket
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ec2.amazonaws.com'
    AND eventname IN (
        'CreateInstanceExportTask', 'ExportImage', 'CreateStoreImageTask'
    )
    AND errorcode IS NULL
