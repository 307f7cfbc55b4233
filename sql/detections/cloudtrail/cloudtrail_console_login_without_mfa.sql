/*
id: cloudtrail_console_login_without_mfa
title: IAM user console sign-in without MFA
description: >-
  An IAM user signed in to the AWS Management Console with a password only
  (additionalEventData.MFAUsed = 'No'). A phished or reused password alone
  then gives an attacker an interactive session. Only IAMUser identities are
  considered: federated sign-ins (SAML, IAM Identity Center, AssumedRole)
  always report MFAUsed = 'No' because MFA happens at the identity provider,
  and root sign-ins are covered by cloudtrail_root_activity. Failed sign-ins
  are ignored (no session was created).
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0001:T1078.004
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Check whether the user has an MFA device:
     `aws iam list-mfa-devices --user-name <target_user>`. No device means
     the account is out of policy; a device that was not used may mean the
     sign-in went around an MFA-enforcing policy.
  2. Contact the user (out of band) and confirm the sign-in time, source_ip
     and user_agent; compare source_ip with corporate egress ranges and the
     user's previous ConsoleLogin events.
  3. Review what the session did: SELECT event_time, eventname, errorcode
     FROM cloudtrail WHERE useridentity.arn = '<actor>' AND
     dt BETWEEN '<day>' AND '<day+1>' ORDER BY event_time.
  4. If not the user: block console access
     (`aws iam delete-login-profile --user-name <target_user>`), end the
     running session with an inline deny-all policy on the user conditioned
     on aws:TokenIssueTime earlier than now, rotate the user's access keys
     and open an incident. Either way, enforce MFA for the user (a policy
     denying actions when aws:MultiFactorAuthPresent is false).
false_positives:
  - Break-glass or legacy IAM users that are knowingly exempt from MFA;
    exempt them by fixing the exemption, not by editing this rule.
  - Users registering their first MFA device right after the sign-in.
references:
  - https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa.html
  - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html
  - https://attack.mitre.org/techniques/T1078/004/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'signin.amazonaws.com'"
    reason: >-
      ConsoleLogin is not a service API (no botocore service model has an
      operation of that name): it is AWS Sign-In's non-API sign-in event,
      which CloudTrail records only with eventsource signin.amazonaws.com
      for console, Discussion Forums and Support Center sign-ins alike
      (CloudTrail user guide, AWS Management Console sign-in events;
      Identity Center sign-ins are
      CredentialChallenge/CredentialVerification/UserAuthentication), so
      eventname = 'ConsoleLogin' already implies it.
  - mutant: "drop main.where: eventname = 'ConsoleLogin'"
    reason: >-
      AWS Sign-In names each record's response key after its event
      (SwitchRole, CheckMfa, GetSigninToken, ExitRole ...), so
      responseElements.ConsoleLogin = 'Success' exists only on ConsoleLogin
      records, as does additionalEventData.MFAUsed; the remaining conditions
      already imply eventname = 'ConsoleLogin'.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    useridentity.username AS target_user,
    useragent AS user_agent,
    awsregion AS aws_region,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(additionaleventdata, '$.LoginTo') AS login_to
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'signin.amazonaws.com'
    AND eventname = 'ConsoleLogin'
    AND useridentity.type = 'IAMUser'
    AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Success'
    AND json_extract_scalar(additionaleventdata, '$.MFAUsed') = 'No'
