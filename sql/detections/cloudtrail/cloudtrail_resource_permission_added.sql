/*
id: cloudtrail_resource_permission_added
title: Lambda, SQS or SNS permission added for an unknown account (AddPermission)
description: >-
  An AddPermission call, or its attempt, that lets an AWS account outside
  the organization use a resource without writing a whole policy: a Lambda
  function (AddPermission*, principal an account id or an IAM/STS ARN in
  that account: the account can invoke the function, or its event source
  can), a Lambda layer version (AddLayerVersionPermission*, principal an
  account or "*": the layer's code is theirs to read and run), an SQS
  queue (aWSAccountIds) or an SNS topic (aWSAccountId). An account counts
  when it is neither the resource's own nor on the reviewed list
  sql/lookups/known_accounts.yaml; granted_to lists each such account and
  "*". The attempt is the signal: a denied call is reported too, with its
  error_code, since nobody legitimately grants an account they do not
  know. A function opened to "*" is cloudtrail_lambda_backdoor's (it reports
  that with the other backdoor patterns) and is not reported twice here;
  service principals (s3.amazonaws.com, events.amazonaws.com ...) are not
  an account, even with a SourceAccount, and are not reported. Lambda event
  names carry API version suffixes (AddPermission20150331v2,
  AddLayerVersionPermission20181031), so they are matched by prefix.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0003:T1098
  - TA0010:T1537
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Read granted_to (the accounts outside the reviewed list, "*" for a
     public layer), event_source, target and error_code (empty when the
     permission is in place). A new account of the organization or a
     reviewed vendor belongs in sql/lookups/known_accounts.yaml (a reviewed
     change), not in a suppression.
  2. Read the resource's policy now: `aws lambda get-policy --function-name
     <target>`, `aws lambda get-layer-version-policy --layer-name <target>
     --version-number <n>`, `aws sqs get-queue-attributes --queue-url
     <target> --attribute-names Policy`, `aws sns get-topic-attributes
     --topic-arn <target>`; note the actions (lambda:InvokeFunction,
     sqs:ReceiveMessage, SNS:Subscribe).
  3. Ask the actor's team for the change ticket; look for use by that
     account since event_time (Lambda invocations, queue reads, new
     subscriptions on the topic).
  4. If unexplained: remove it (`aws lambda remove-permission
     --function-name <target> --statement-id <sid>`, `aws lambda
     remove-layer-version-permission`, `aws sqs remove-permission`, `aws
     sns remove-permission`), contain the actor and open an incident.
false_positives:
  - A new account of the organization, or a newly contracted vendor, not
    yet on sql/lookups/known_accounts.yaml (cross-account event delivery,
    a shared layer).
  - Publishing a Lambda layer for public use on purpose.
references:
  - https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html
  - https://docs.aws.amazon.com/lambda/latest/api/API_AddLayerVersionPermission.html
  - https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_AddPermission.html
  - https://docs.aws.amazon.com/sns/latest/api/API_AddPermission.html
  - https://docs.aws.amazon.com/lambda/latest/dg/logging-using-cloudtrail.html
  - https://attack.mitre.org/techniques/T1098/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop permissions.where: eventsource IN ('lambda.amazonaws.com', 'sqs.amazonaws.com', 'sns.amazonaws.com')"
    reason: >-
      Per the AWS SDK service models (botocore 1.43), AddPermission exists in
      Lambda, SQS and SNS only and AddLayerVersionPermission in Lambda only,
      so the event names already imply these three sources.
  - mutant: "drop permissions.where: (eventname LIKE 'AddPermission%' OR eventname LIKE 'AddLayerVersionPermission%')"
    reason: >-
      An account is found only in a request's Principal or AWSAccountId(s),
      and per the AWS SDK service models (botocore 1.43, request shapes
      searched at every depth) the only Lambda, SQS and SNS operations whose
      request has any of them are Lambda's AddPermission and
      AddLayerVersionPermission and SQS's and SNS's AddPermission, so the
      three sources with such a request already imply the event names.
*/
WITH permissions AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        eventsource,
        eventname,
        awsregion,
        errorcode,
        useridentity.type AS identity_type,
        useragent,
        requestparameters,
        eventid,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        {{ principal() }} AS principal,
        coalesce(
            json_extract_scalar(requestparameters, '$.functionName'),
            json_extract_scalar(requestparameters, '$.layerName'),
            json_extract_scalar(requestparameters, '$.queueUrl'),
            json_extract_scalar(requestparameters, '$.topicArn')
        ) AS target,
        coalesce(json_extract_scalar(requestparameters, '$.principal'), '') AS grantee,
        json_extract_scalar(requestparameters, '$.organizationId') AS organization_id,
        -- SQS's aWSAccountIds and SNS's aWSAccountId: lists of account ids (lower-camel as CloudTrail logs them).
        regexp_extract_all(
            coalesce(regexp_extract(requestparameters, '"aWSAccountIds?"\s*:\s*\[([^\]]*)\]', 1), ''),
            '"([^"]*)"',
            1
        ) AS listed_accounts
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource IN ('lambda.amazonaws.com', 'sqs.amazonaws.com', 'sns.amazonaws.com')
        AND (eventname LIKE 'AddPermission%' OR eventname LIKE 'AddLayerVersionPermission%')
        -- A function opened to everyone is cloudtrail_lambda_backdoor's alert.
        AND NOT (
            eventsource = 'lambda.amazonaws.com'
            AND eventname LIKE 'AddPermission%'
            AND json_extract_scalar(requestparameters, '$.principal') = '*'
        )
),

-- Who is let in: the Lambda principal's account (a bare id, or the id in an IAM/STS ARN; a service principal
-- has none) or "*" (a layer shared with the whole organization, organizationId, is not), and the SQS/SNS account
-- lists.
grantees AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        eventsource,
        eventname,
        awsregion,
        errorcode,
        identity_type,
        useragent,
        requestparameters,
        eventid,
        actor,
        principal,
        target,
        concat(
            filter(
                regexp_extract_all(grantee, '^(\*|\d{12})$', 1),
                p -> p <> '*' OR organization_id IS NULL
            ),
            regexp_extract_all(grantee, '^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):', 1),
            listed_accounts
        ) AS grantee_ids
    FROM permissions
)

SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventsource AS event_source,
    eventname AS event_name,
    awsregion AS aws_region,
    errorcode AS error_code,
    identity_type,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    eventid AS event_id,
    actor,
    principal,
    target,
    array_join(
        array_sort(
            array_distinct(
                filter(grantee_ids, a -> a <> account_id AND NOT contains({{ lookup('known_accounts') }}, a))
            )
        ),
        ', '
    ) AS granted_to
FROM grantees
WHERE
    cardinality(
        filter(grantee_ids, a -> a <> account_id AND NOT contains({{ lookup('known_accounts') }}, a))
    ) > 0
