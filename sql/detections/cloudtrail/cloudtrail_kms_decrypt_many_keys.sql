/*
id: cloudtrail_kms_decrypt_many_keys
title: KMS decryption across many keys by one principal
description: >-
  One principal called KMS Decrypt, GenerateDataKey (with or without
  plaintext, pairs included) or ReEncrypt with at least 5 different KMS
  keys within 60 minutes, in one account: a stolen role or key harvesting
  whatever it can decrypt (secrets, EBS snapshots, S3 objects and database
  exports of several teams) or re-encrypting data with an attacker's key.
  An application uses the one or two keys of its own data: breadth across
  keys is the signal, not volume (busy roles decrypt thousands of times a
  day with one key). Denied calls (AccessDeniedException, a key policy or
  grant that does not name the principal) count as attempts: probing which
  keys a credential can use is the same intent. Calls that an AWS service
  makes on a principal's behalf (S3 SSE-KMS, Secrets Manager, EBS) are
  counted for that principal, since the data went to it; calls by AWS
  service principals themselves are ignored. Role sessions are counted by
  their role, users and root by their ARN. The key is the event's KMS key
  resource (or the request's keyId). The 60 minutes are a sliding period
  counted as in cloudtrail_access_denied_volume (each run reads the two
  hours before its window), and a burst is reported once, at the call that
  brings it to the limit, when none of the principal's calls was at the
  limit in the hour before. KMS calls are management events (read-only):
  every trail records them.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0006:T1555
  - TA0040:T1486
dedup:
  keys: [account_id, principal]
  period: 1d
threshold: 1
runbook: |-
  1. List the keys and what they protect: SELECT
     element_at(resources, 1).arn AS key_arn, eventname, count(*) AS
     calls, count_if(errorcode IS NULL) AS succeeded,
     array_agg(DISTINCT json_extract_scalar(requestparameters,
     '$.encryptionContext')) AS contexts FROM cloudtrail WHERE eventsource
     = 'kms.amazonaws.com' AND coalesce(
     useridentity.sessioncontext.sessionissuer.arn, useridentity.arn) =
     '<principal>' AND dt = '<day>' GROUP BY 1, 2. The encryption context
     names the secret, bucket or volume.
  2. Is the principal a key-management or backup tool that touches every
     key (AWS Backup role, a re-encryption migration)? Suppress it with an
     owner and an expiry.
  3. If not: revoke the role's sessions or deactivate the key, and treat
     everything decrypted in step 1 as exposed (rotate the secrets, review
     the S3 objects read). ReEncrypt to a key of another account means data
     is being held hostage: disable that grant at once.
false_positives:
  - Backup, migration or key-rotation tooling that touches many keys.
  - An administrator checking several keys from the console.
references:
  - https://docs.aws.amazon.com/kms/latest/developerguide/ct-decrypt.html
  - https://docs.aws.amazon.com/kms/latest/developerguide/logging-using-cloudtrail.html
  - https://attack.mitre.org/techniques/T1555/
owner: security-engineering
equivalent_mutants:
  - mutant: "before widen: 2h -> 4h"
    reason: >-
      A call of the window is compared with the principal's calls at the
      limit in the hour before it, each counted over its own hour: two hours
      before the window start is the earliest call either can involve, so
      reading further back changes no hit.
  - mutant: "drop key_uses.where: eventsource = 'kms.amazonaws.com'"
    reason: >-
      Decrypt, GenerateDataKey*, ReEncrypt are KMS's own API names: no other
      service's CloudTrail events carry them, so the source adds nothing the
      names do not already say; it is kept for the reader.
*/
WITH key_uses AS (
    SELECT
        dt,
        hour,
        event_time,
        account_id,
        sourceipaddress,
        useragent,
        eventname,
        eventid,
        errorcode,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        coalesce(
            useridentity.sessioncontext.sessionissuer.arn,
            useridentity.arn,
            useridentity.principalid
        ) AS principal,
        coalesce(
            element_at(resources, 1).arn,
            json_extract_scalar(requestparameters, '$.keyId')
        ) AS key_arn
    FROM cloudtrail
    WHERE
        {{ window(before='2h') }}
        AND eventsource = 'kms.amazonaws.com'
        AND eventname IN (
            'Decrypt',
            'GenerateDataKey',
            'GenerateDataKeyWithoutPlaintext',
            'GenerateDataKeyPair',
            'GenerateDataKeyPairWithoutPlaintext',
            'ReEncrypt'
        )
        AND coalesce(useridentity.type, '') <> 'AWSService'
),

-- Each call with the principal's calls of the hour up to it (same second included).
last_hour AS (
    SELECT
        dt,
        hour,
        event_time,
        account_id,
        actor,
        principal,
        key_arn,
        sourceipaddress,
        useragent,
        eventname,
        eventid,
        min(event_time) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS first_event_time,
        count(*) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS kms_calls,
        sum(CASE WHEN errorcode IS NULL THEN 0 ELSE 1 END) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS failed_calls,
        approx_distinct(key_arn) OVER (
            PARTITION BY account_id, principal ORDER BY event_time
            RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
        ) AS keys_used
    FROM key_uses
),

-- The calls at the limit.
over_limit AS (
    SELECT *
    FROM last_hour
    WHERE keys_used >= 5
),

-- A burst is reported by its first call at the limit: the one with no other call of the principal at the
-- limit in the hour before. So it is one hit whichever runs it spans, and the run holding that call owns it.
bursts AS (
    SELECT
        *,
        lag(event_time) OVER (
            PARTITION BY account_id, principal ORDER BY event_time, eventid
        ) AS previous_over_limit
    FROM over_limit
)

SELECT
    event_time,
    account_id,
    actor,
    principal,
    sourceipaddress AS source_ip,
    useragent AS user_agent,
    eventname AS event_name,
    eventid AS event_id,
    key_arn AS target,
    first_event_time,
    kms_calls,
    failed_calls,
    keys_used
FROM bursts
WHERE
    {{ window() }}
    AND (
        previous_over_limit IS NULL
        OR previous_over_limit < event_time - INTERVAL '1' HOUR
    )
