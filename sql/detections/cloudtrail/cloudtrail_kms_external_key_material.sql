/*
id: cloudtrail_kms_external_key_material
title: KMS key material imported or held outside AWS
description: >-
  Key material supplied from outside AWS KMS: a key created with origin
  EXTERNAL (the caller imports the material) or EXTERNAL_KEY_STORE,
  ImportKeyMaterial, DeleteImportedKeyMaterial, or a custom key store
  created, connected or pointed elsewhere (CreateCustomKeyStore,
  ConnectCustomKeyStore, UpdateCustomKeyStore). Whoever holds external key
  material can make everything encrypted under the key unreadable by
  deleting it (DeleteImportedKeyMaterial, or letting it expire) while
  keeping the only copy: the KMS form of ransomware, with no key deletion
  waiting period to catch it. Denied and failed attempts are reported too.
  Keys created with AWS-generated material (origin AWS_KMS, the default)
  and disabling or scheduling deletion of keys
  (cloudtrail_kms_key_disabled_or_deleted) are not reported here.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0040:T1486
  - TA0040:T1485
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read event_name, target (the key or key store) and error_code.
  2. Check the key: `aws kms describe-key --key-id <target>` (Origin,
     KeyState, ValidTo: when imported material expires) and what it
     encrypts (`mamori search <target>`: S3 buckets, EBS volumes, RDS
     databases, secrets naming it).
  3. Ask the key's owner for the design (bring-your-own-key is a
     compliance decision, made once and documented).
  4. If unplanned: re-encrypt the data under a KMS-generated key before the
     material is deleted or expires, contain the actor, and deny
     kms:ImportKeyMaterial and kms:DeleteImportedKeyMaterial by SCP
     outside the key custodians.
false_positives:
  - A bring-your-own-key design rotating imported material on a schedule
    (suppress the custodians' role).
references:
  - https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys.html
  - https://docs.aws.amazon.com/kms/latest/APIReference/API_DeleteImportedKeyMaterial.html
  - https://docs.aws.amazon.com/kms/latest/developerguide/keystore-external.html
  - https://attack.mitre.org/techniques/T1486/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'kms.amazonaws.com'"
    reason: >-
      Per the AWS SDK service models (botocore 1.43) ImportKeyMaterial,
      DeleteImportedKeyMaterial and the three custom key store calls are
      operations of KMS only, and of the services with a CreateKey (KMS,
      Location, Payment Cryptography) only KMS takes an Origin; so the
      eventname and origin tests already imply the source.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useridentity.type AS identity_type,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    errorcode AS error_code,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.keyId'),
        json_extract_scalar(responseelements, '$.keyMetadata.keyId'),
        json_extract_scalar(requestparameters, '$.customKeyStoreId'),
        json_extract_scalar(requestparameters, '$.customKeyStoreName')
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'kms.amazonaws.com'
    AND (
        eventname IN (
            'ImportKeyMaterial',
            'DeleteImportedKeyMaterial',
            'CreateCustomKeyStore',
            'ConnectCustomKeyStore',
            'UpdateCustomKeyStore'
        )
        OR (
            eventname = 'CreateKey'
            AND json_extract_scalar(requestparameters, '$.origin') IN (
                'EXTERNAL', 'EXTERNAL_KEY_STORE'
            )
        )
    )
