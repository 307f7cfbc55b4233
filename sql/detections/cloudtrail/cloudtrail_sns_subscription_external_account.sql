/*
id: cloudtrail_sns_subscription_external_account
title: SNS topic subscribed by a queue, function or stream in an unknown account
description: >-
  A Subscribe call whose endpoint is the ARN of an SQS queue, a Lambda
  function or a Firehose stream in an account that is neither the topic's
  own account nor on the reviewed list sql/lookups/known_accounts.yaml.
  Every message published to the topic (alarms, order events, whatever
  the application fans out) is then delivered outside the organization: a
  quiet, durable exfiltration channel that needs no further API calls.
  Denied and failed attempts are reported too. Subscriptions of the
  account's own or known accounts' endpoints, and e-mail, HTTPS and SMS
  subscriptions, are not reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0010:T1537
  - TA0009:T1530
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read target (the topic), endpoint and endpoint_account, and
     error_code.
  2. Check the subscription: `aws sns list-subscriptions-by-topic
     --topic-arn <target>`; what does the topic carry?
  3. Ask the topic's owner: is endpoint_account a partner whose
     integration was reviewed? Then it belongs in
     sql/lookups/known_accounts.yaml (a reviewed change).
  4. If unexplained: `aws sns unsubscribe` the subscription, restrict
     sns:Subscribe in the topic policy, and contain the actor.
false_positives:
  - A partner integration subscribing its own queue to a shared topic,
    not yet on sql/lookups/known_accounts.yaml.
references:
  - https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html
  - https://docs.aws.amazon.com/sns/latest/dg/sns-send-message-to-sqs-cross-account.html
  - https://attack.mitre.org/techniques/T1537/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop subscriptions.where: eventname = 'Subscribe'"
    reason: >-
      In the SNS service model (botocore 1.43) Subscribe is the only
      operation with an Endpoint request member, so no other SNS event
      carries the endpoint the rule reads.
  - mutant: "drop subscriptions.where: eventsource = 'sns.amazonaws.com'"
    reason: >-
      The only other Subscribe in the AWS SDK service models (botocore 1.43),
      CodeStar Notifications', takes Arn, Target and ClientRequestToken and no
      Endpoint, so its events never yield an endpoint account.
*/
WITH subscriptions AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        eventname,
        awsregion,
        useridentity.type AS identity_type,
        useragent,
        errorcode,
        eventid,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        {{ principal() }} AS principal,
        json_extract_scalar(requestparameters, '$.topicArn') AS topic_arn,
        json_extract_scalar(requestparameters, '$.endpoint') AS endpoint,
        -- No match is NULL on Athena and '' on DuckDB: both mean an endpoint that is no ARN (e-mail, HTTPS, SMS).
        nullif(
            regexp_extract(
                json_extract_scalar(requestparameters, '$.endpoint'),
                '^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:([0-9]{12}):', 1
            ),
            ''
        ) AS endpoint_account
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource = 'sns.amazonaws.com'
        AND eventname = 'Subscribe'
)

SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    identity_type,
    useragent AS user_agent,
    errorcode AS error_code,
    eventid AS event_id,
    topic_arn AS target,
    endpoint,
    endpoint_account,
    actor,
    principal
FROM subscriptions
WHERE
    endpoint_account <> account_id
    AND NOT contains({{ lookup('known_accounts') }}, endpoint_account)
