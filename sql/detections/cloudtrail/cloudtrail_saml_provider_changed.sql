/*
id: cloudtrail_saml_provider_changed
title: IAM SAML identity provider created, updated or deleted
description: >-
  A successful CreateSAMLProvider, UpdateSAMLProvider or DeleteSAMLProvider.
  A SAML provider is a trust anchor: whoever controls the IdP metadata
  (signing certificate) can mint SAML assertions and assume every role that
  trusts the provider. Creating one, or replacing the metadata of an
  existing one, is a persistence technique (golden SAML style); deleting
  one breaks federated sign-in. Changes made by IAM Identity Center itself
  (its service-linked role or invokedBy sso.amazonaws.com, managing its
  AWSSSO_* providers) are excluded. AssumeRoleWithSAML sign-ins are normal
  federation traffic and are not reported here.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0004:T1484.002
  - TA0003:T1556.007
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Inspect the provider: `aws iam get-saml-provider
     --saml-provider-arn <target>` (issuer/entityID and signing certificate
     in the metadata; for deletes, request_parameters names the ARN).
  2. Confirm with the identity team that the IdP and certificate are theirs
     (a certificate rollover is announced in advance).
  3. List roles trusting the provider: `aws iam list-roles --query
     "Roles[?contains(to_string(AssumeRolePolicyDocument), '<name>')].Arn"`
     and look for AssumeRoleWithSAML through it since event_time.
  4. If unexplained: delete the rogue provider or restore the known metadata
     (`aws iam update-saml-provider`), revoke sessions of the trusting
     roles, and contain the actor.
false_positives:
  - Planned IdP certificate rollovers (UpdateSAMLProvider).
  - Onboarding or decommissioning an identity provider.
references:
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateSAMLProvider.html
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateSAMLProvider.html
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_saml.html
  - https://attack.mitre.org/techniques/T1484/002/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'iam.amazonaws.com'"
    reason: >-
      CreateSAMLProvider, UpdateSAMLProvider and DeleteSAMLProvider are
      operations of IAM only per the AWS SDK service models (botocore 1.43)
      (Cognito's are CreateIdentityProvider and friends), so the eventname
      list already implies eventsource iam.amazonaws.com.
  - mutant: "drop main.where: NOT REGEXP_LIKE(COALESCE(useridentity.sessioncontext.sessionissuer.arn, ''), ':role/aws-service-role/sso\\.amazonaws\\...."
    reason: >-
      Implied by the invokedBy condition: AWSServiceRoleForSSO is a
      service-linked role only sso.amazonaws.com can assume (its trust policy
      cannot be edited), and Identity Center's calls through it are logged with
      invokedBy sso.amazonaws.com (as in the identity_center_managed_provider
      case), which the invokedBy condition already removes; the session-issuer
      test is kept as a second guard.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.sAMLProviderArn'),
        json_extract_scalar(responseelements, '$.sAMLProviderArn'),
        json_extract_scalar(requestparameters, '$.name')
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'iam.amazonaws.com'
    AND eventname IN (
        'CreateSAMLProvider', 'UpdateSAMLProvider', 'DeleteSAMLProvider'
    )
    AND errorcode IS NULL
    AND coalesce(useridentity.invokedby, '') <> 'sso.amazonaws.com'
    AND NOT regexp_like(
        coalesce(useridentity.sessioncontext.sessionissuer.arn, ''),
        ':role/aws-service-role/sso\.amazonaws\.com/'
    )
