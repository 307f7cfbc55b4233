/*
id: cloudtrail_iam_password_policy_weakened
title: IAM account password policy deleted or set below 14 characters
description: >-
  A successful DeleteAccountPasswordPolicy, or an UpdateAccountPasswordPolicy
  whose minimum password length is under 14 characters (the CIS AWS
  Foundations value; a request without minimumPasswordLength sets IAM's
  default of 6). The account password policy governs every IAM user's
  console password; removing or weakening it lets an attacker set a short,
  guessable password on users they create or take over
  (cloudtrail_login_profile_changed_for_other_user) and is how a
  foothold is made easier to return to. An update keeping 14 characters or
  more is not reported. The request carries the whole new policy, not the
  old one, so other settings (symbols, reuse prevention, expiry) are not
  compared.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1556
  - TA0003:T1098
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read event_name, minimum_length and the actor: who removed or
     weakened the policy, and from where (source_ip, user_agent)?
  2. Look for passwords set since: SELECT event_time, eventname,
     requestparameters FROM cloudtrail WHERE eventname IN
     ('CreateLoginProfile', 'UpdateLoginProfile', 'ChangePassword') AND
     account_id = '<account_id>' AND dt >= '<day>'.
  3. Ask the actor's team for the change; the password policy normally
     comes from the account baseline.
  4. Restore the baseline policy (`aws iam update-account-password-policy
     --minimum-password-length 14 ...`), require a password reset for users
     whose password was set meanwhile, contain the actor if unexplained.
false_positives:
  - An account baseline that deliberately keeps a shorter length with
    other compensating settings (suppress the account, not the rule).
references:
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAccountPasswordPolicy.html
  - https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteAccountPasswordPolicy.html
  - https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html
  - https://attack.mitre.org/techniques/T1556/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'iam.amazonaws.com'"
    reason: >-
      DeleteAccountPasswordPolicy and UpdateAccountPasswordPolicy are
      operations of IAM only: no other service model in botocore 1.43 has
      an operation of either name, so the eventname conditions already
      imply eventsource iam.amazonaws.com.
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
    json_extract_scalar(requestparameters, '$.minimumPasswordLength') AS minimum_length
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'iam.amazonaws.com'
    AND errorcode IS NULL
    AND (
        eventname = 'DeleteAccountPasswordPolicy'
        OR (
            eventname = 'UpdateAccountPasswordPolicy'
            -- IAM's default minimum is 6 when the request leaves the length out.
            AND coalesce(
                try_cast(json_extract_scalar(requestparameters, '$.minimumPasswordLength') AS integer), 6
            ) < 14
        )
    )
