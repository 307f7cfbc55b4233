/*
id: cloudtrail_resource_policy_opened
title: Resource policy opened to everyone or an unknown account (ECR, SQS, SNS, Secrets Manager, OpenSearch, Glacier, KMS)
description: >-
  A resource policy written, or attempted, that lets everyone or a specific
  AWS account outside the organization in, on the services whose resource
  policies are not S3's: an ECR repository (SetRepositoryPolicy), an SQS
  queue (SetQueueAttributes or CreateQueue with a Policy attribute), an SNS
  topic (SetTopicAttributes of Policy, CreateTopic with a Policy
  attribute), a Secrets Manager secret (PutResourcePolicy), an OpenSearch
  domain's access policy (CreateDomain, UpdateDomainConfig and their
  Elasticsearch-era names), a Glacier vault (SetVaultAccessPolicy) or a
  KMS key (PutKeyPolicy, CreateKey, ReplicateKey). An Allow statement is
  open to everyone when its Principal is "*" or an AWS principal is "*"
  and its Condition names none of the keys that scope such a grant to
  accounts, an organization or a network (aws:SourceAccount,
  aws:SourceArn, aws:SourceOwner, aws:SourceVpc, aws:SourceVpce,
  aws:PrincipalAccount, aws:PrincipalArn, aws:PrincipalOrgID,
  aws:PrincipalOrgPaths, aws:userid, kms:CallerAccount); when it does, the
  accounts those conditions name count instead (the SNS default policy's
  AWS:SourceOwner is the topic's own account). An account is one named by
  an Allow statement's AWS principal (a bare id, or in an IAM/STS ARN),
  neither the resource's account nor on the reviewed list
  sql/lookups/known_accounts.yaml; for KMS keys only "*" is this rule's
  (cloudtrail_kms_key_policy_external_account reports the named account).
  exposure lists "*" and each such account. The attempt is the signal: a
  call denied or refused (Secrets Manager's BlockPublicPolicy) is reported
  too, with its error_code, since nobody legitimately writes a policy for
  an account they do not know. Deny statements, service principals and
  conditions other than the scoping keys (aws:SourceIp included) are not
  weighed: a policy open to "*" from an IP range is reported. An
  OpenSearch domain created inside a VPC (vPCOptions with subnets) has no
  internet endpoint, so its "*" is not reported. Public ECR Gallery
  repositories (ecr-public) are public by design and not read. S3 bucket
  policies are cloudtrail_s3_bucket_made_public's and
  cloudtrail_s3_bucket_policy_external_account's; Lambda, SQS and SNS
  AddPermission are cloudtrail_resource_permission_added's.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0010:T1537
  - TA0003:T1098
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Read exposure ("*" = everyone, otherwise the accounts outside the
     reviewed list), event_source and target, and error_code (empty when
     the policy is in place). A new account of the organization or a
     reviewed vendor belongs in sql/lookups/known_accounts.yaml (a reviewed
     change), not in a suppression.
  2. Read the policy written (request_parameters) and the current one:
     `aws ecr get-repository-policy --repository-name <target>`, `aws sqs
     get-queue-attributes --queue-url <target> --attribute-names Policy`,
     `aws sns get-topic-attributes --topic-arn <target>`, `aws
     secretsmanager get-resource-policy --secret-id <target>`, `aws
     opensearch describe-domain-config --domain-name <target>`, `aws
     glacier get-vault-access-policy --account-id - --vault-name
     <target>`, `aws kms get-key-policy --key-id <target> --policy-name
     default`. Note which actions the outside principal got (ecr:BatchGetImage
     = pull the images, sqs:ReceiveMessage, secretsmanager:GetSecretValue,
     es:ESHttp*, glacier:InitiateJob, kms:Decrypt).
  3. Ask the actor's team for the change ticket; look for use by the
     outside principal since event_time (data events of the resource,
     OpenSearch or ECR access, KMS Decrypt with another caller account).
  4. If unexplained: put the previous policy back (or delete it), rotate
     what the resource held (a secret's value, images' embedded
     credentials), contain the actor and open an incident.
false_positives:
  - A new account of the organization, or a newly contracted vendor, not
    yet on sql/lookups/known_accounts.yaml.
  - OpenSearch domains with an IP-based access policy (Principal "*" with
    aws:SourceIp), and VPC domains whose policy is updated to "*" (the VPC
    is only in the create request), both common set-ups.
  - Cross-account SNS subscriptions or SQS queues fed by a partner's topic
    (aws:SourceArn naming another account).
references:
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies-cross-account-resource-access.html
  - https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_SetRepositoryPolicy.html
  - https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
  - https://docs.aws.amazon.com/sns/latest/api/API_SetTopicAttributes.html
  - https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutResourcePolicy.html
  - https://docs.aws.amazon.com/opensearch-service/latest/APIReference/API_UpdateDomainConfig.html
  - https://docs.aws.amazon.com/amazonglacier/latest/dev/api-SetVaultAccessPolicy.html
  - https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status
  - https://attack.mitre.org/techniques/T1537/
owner: security-engineering
*/
WITH policy_changes AS (
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
            json_extract_scalar(requestparameters, '$.repositoryName'),
            json_extract_scalar(requestparameters, '$.queueUrl'),
            json_extract_scalar(requestparameters, '$.queueName'),
            json_extract_scalar(requestparameters, '$.topicArn'),
            json_extract_scalar(requestparameters, '$.secretId'),
            json_extract_scalar(requestparameters, '$.domainName'),
            json_extract_scalar(requestparameters, '$.vaultName'),
            json_extract_scalar(requestparameters, '$.keyId'),
            json_extract_scalar(responseelements, '$.keyMetadata.keyId'),
            json_extract_scalar(requestparameters, '$.name')
        ) AS target,
        -- Where each call carries its policy document (request parameter names per the AWS SDK service models,
        -- lower-camel as CloudTrail logs them; the keys of an attribute map are logged as sent).
        CASE
            WHEN eventsource = 'ecr.amazonaws.com'
                THEN json_extract_scalar(requestparameters, '$.policyText')
            WHEN
                eventsource IN ('sqs.amazonaws.com', 'sns.amazonaws.com')
                AND eventname <> 'SetTopicAttributes'
                THEN json_extract_scalar(requestparameters, '$.attributes.Policy')
            WHEN
                eventsource = 'sns.amazonaws.com'
                AND json_extract_scalar(requestparameters, '$.attributeName') = 'Policy'
                THEN json_extract_scalar(requestparameters, '$.attributeValue')
            WHEN eventsource = 'secretsmanager.amazonaws.com'
                THEN json_extract_scalar(requestparameters, '$.resourcePolicy')
            WHEN eventsource = 'es.amazonaws.com'
                THEN json_extract_scalar(requestparameters, '$.accessPolicies')
            WHEN eventsource = 'glacier.amazonaws.com'
                THEN json_extract_scalar(requestparameters, '$.policy.policy')
            WHEN eventsource = 'kms.amazonaws.com'
                THEN json_extract_scalar(requestparameters, '$.policy')
        END AS resource_policy,
        -- An OpenSearch domain created in a VPC has no public endpoint.
        regexp_like(requestparameters, '"vPCOptions"\s*:\s*\{[^{}]*"subnetIds"\s*:\s*\[\s*"') AS in_vpc
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource || ':' || eventname IN (
            'ecr.amazonaws.com:SetRepositoryPolicy',
            'sqs.amazonaws.com:SetQueueAttributes',
            'sqs.amazonaws.com:CreateQueue',
            'sns.amazonaws.com:SetTopicAttributes',
            'sns.amazonaws.com:CreateTopic',
            'secretsmanager.amazonaws.com:PutResourcePolicy',
            'es.amazonaws.com:CreateDomain',
            'es.amazonaws.com:UpdateDomainConfig',
            'es.amazonaws.com:CreateElasticsearchDomain',
            'es.amazonaws.com:UpdateElasticsearchDomainConfig',
            'glacier.amazonaws.com:SetVaultAccessPolicy',
            'kms.amazonaws.com:PutKeyPolicy',
            'kms.amazonaws.com:CreateKey',
            'kms.amazonaws.com:ReplicateKey'
        )
),

-- The Allow statements: the text after "Statement" is cut into its top-level objects (a statement nests at most
-- three deep: Condition, operator, key), as cloudtrail_role_trust_external_account reads a trust policy.
allows AS (
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
        in_vpc,
        filter(
            regexp_extract_all(
                coalesce(regexp_extract(resource_policy, '"Statement"\s*:\s*([\s\S]*)', 1), ''),
                '\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}'
            ),
            s -> regexp_like(s, '"Effect"\s*:\s*"Allow"')
        ) AS statements
    FROM policy_changes
),

-- Each Allow statement open to everyone (Principal "*" or an AWS principal "*"), split by whether a scoping
-- condition key narrows it, and the accounts the AWS principals name.
principals AS (
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
        in_vpc,
        transform(
            filter(
                statements,
                s -> regexp_like(s, '"Principal"\s*:\s*(?:"\*"|\{[^{}]*"AWS"\s*:\s*(?:"\*"|\[[^\]]*"\*"))')
            ),
            s -> coalesce(
                regexp_extract(
                    s, '"Condition"\s*:\s*(\{(?:[^{}]|\{[^{}]*\})*\})', 1
                ),
                ''
            )
        ) AS open_conditions,
        regexp_extract_all(
            array_join(
                transform(
                    statements,
                    s -> array_join(regexp_extract_all(s, '"AWS"\s*:\s*("[^"]*"|\[[^\]]*\])', 1), ' ')
                ),
                ' '
            ),
            '[":](\d{12})[":]',
            1
        ) AS principal_accounts
    FROM allows
),

-- Who the policy lets in: "*" for an open statement no scoping key narrows (a VPC domain's excepted), the
-- accounts the scoping conditions of open statements name, and the AWS principals' accounts (not for KMS keys,
-- whose named accounts are cloudtrail_kms_key_policy_external_account's).
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
                ARRAY['*'],
                x -> NOT in_vpc AND cardinality(
                    filter(
                        open_conditions,
                        c -> NOT regexp_like(
                            lower(c),
                            '"(aws:(sourceaccount|sourcearn|sourceowner|sourcevpce?|principalaccount'
                            || '|principalarn|principalorgid|principalorgpaths|userid)|kms:calleraccount)"'
                        )
                    )
                ) > 0
            ),
            regexp_extract_all(array_join(open_conditions, ' '), '[":](\d{12})[":]', 1),
            filter(principal_accounts, a -> eventsource <> 'kms.amazonaws.com')
        ) AS grantee_ids
    FROM principals
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
    ) AS exposure
FROM grantees
WHERE
    cardinality(
        filter(grantee_ids, a -> a <> account_id AND NOT contains({{ lookup('known_accounts') }}, a))
    ) > 0
