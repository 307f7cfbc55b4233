/*
id: cloudtrail_oidc_provider_changed
title: IAM OpenID Connect provider created or its trust widened outside infrastructure-as-code
description: >-
  A CreateOpenIDConnectProvider, UpdateOpenIDConnectProviderThumbprint or
  AddClientIDToOpenIDConnectProvider, denied and failed attempts included,
  by a principal that is not on the reviewed list of
  infrastructure-as-code pipelines (sql/lookups/iac_principals.yaml,
  matched by the user or by the role behind an assumed-role session). An
  OIDC provider is a trust anchor like a SAML provider
  (cloudtrail_saml_provider_changed): any role trusting it can be assumed
  with a token from that issuer, so an attacker registering their own
  issuer, or adding a client id or certificate thumbprint to an existing
  one, keeps a way back in that survives key rotation. Deleting a provider
  or removing a client id narrows trust and is not reported; calls made by
  AWS services on the caller's behalf (invokedBy set, e.g. CloudFormation
  creating an AWS::IAM::OIDCProvider) are not reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0003:T1484.002
  - TA0004:T1484.002
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read provider (the issuer URL for a creation, the provider ARN
     otherwise), client_id, error_code and the actor.
  2. Is the issuer one of yours (GitHub Actions, your EKS clusters, your
     identity provider)? `aws iam get-open-id-connect-provider
     --open-id-connect-provider-arn <arn>`.
  3. Find roles that trust it and were changed since: SELECT event_time,
     eventname, requestparameters FROM cloudtrail WHERE eventname IN
     ('CreateRole', 'UpdateAssumeRolePolicy') AND requestparameters LIKE
     '%oidc-provider%' AND dt >= '<day>'.
  4. If unexplained: remove the client id or delete the provider, review
     AssumeRoleWithWebIdentity calls through it, contain the actor.
false_positives:
  - Engineers registering a CI system's OIDC issuer by hand.
  - An EKS cluster pipeline not yet on sql/lookups/iac_principals.yaml
    (every EKS cluster with IRSA has its own provider).
references:
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_AddClientIDToOpenIDConnectProvider.html
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html
  - https://attack.mitre.org/techniques/T1484/002/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'iam.amazonaws.com'"
    reason: >-
      CreateOpenIDConnectProvider, UpdateOpenIDConnectProviderThumbprint
      and AddClientIDToOpenIDConnectProvider are operations of IAM only: no
      other service model in botocore 1.43 has an operation of any of
      those names, so the eventname list already implies eventsource
      iam.amazonaws.com.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.url'),
        json_extract_scalar(requestparameters, '$.openIDConnectProviderArn')
    ) AS provider,
    json_extract_scalar(requestparameters, '$.clientID') AS client_id
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'iam.amazonaws.com'
    AND eventname IN (
        'CreateOpenIDConnectProvider',
        'UpdateOpenIDConnectProviderThumbprint',
        'AddClientIDToOpenIDConnectProvider'
    )
    AND useridentity.invokedby IS NULL
    AND NOT contains(
        {{ lookup('iac_principals') }},
        coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn)
    )
