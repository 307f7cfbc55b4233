/*
id: cloudtrail_backup_destruction
title: AWS Backup recovery points, vaults, plans or vault protections deleted
description: >-
  The AWS Backup steps of a ransomware playbook, denied and failed
  attempts included: DeleteRecoveryPoint (a backup is destroyed),
  DeleteBackupVault (the vault goes, after its recovery points),
  DeleteBackupPlan and DeleteBackupSelection (resources stop being backed
  up), UpdateRecoveryPointLifecycle (a recovery point's retention
  changed: shortened, the service expires it; every change is reported,
  as retention is rarely edited by hand), DisassociateRecoveryPoint (a continuous backup
  stops), and DeleteBackupVaultAccessPolicy or
  DeleteBackupVaultLockConfiguration (the policy or the governance-mode
  lock that forbade deleting recovery points is removed). Backups are
  what a victim restores from instead of paying, so attackers destroy
  them first, and a denied attempt is a stolen key trying. AWS Backup's
  own lifecycle deleting the recovery points that expired (recorded with
  the service's name as source address) is not reported. A new vault
  access policy (PutBackupVaultAccessPolicy) is not reported: whether it
  drops a deny cannot be told from the call alone, and cross-account copy
  policies are routine; removing one is reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0040:T1490
  - TA0040:T1485
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read event_name, error_code, vault and target: what backup, plan or
     protection was removed, and did the call succeed?
  2. Check what is left: `aws backup list-recovery-points-by-backup-vault
     --backup-vault-name <vault>`, `aws backup list-backup-plans`, `aws
     backup get-backup-vault-access-policy --backup-vault-name <vault>` and
     any copies in another account or region.
  3. Ask the backup owner for the change (a plan replaced by a new one,
     a vault of a decommissioned application); the actor's other calls in
     the hour tell a migration from a wipe.
  4. If unexplained: contain the actor, restore the plan and the vault
     policy, take on-demand backups of the protected resources, and put
     the vault under a compliance-mode vault lock with copies in a
     separate account.
false_positives:
  - Terraform destroying the backup plan or vault of a decommissioned or
    test environment (suppress that pipeline's role for those accounts).
  - An administrator deleting recovery points by hand to cut storage cost.
references:
  - https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DeleteRecoveryPoint.html
  - https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DeleteBackupVault.html
  - https://docs.aws.amazon.com/aws-backup/latest/devguide/API_UpdateRecoveryPointLifecycle.html
  - https://docs.aws.amazon.com/aws-backup/latest/devguide/logging-using-cloudtrail.html
  - https://attack.mitre.org/techniques/T1490/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'backup.amazonaws.com'"
    reason: >-
      Per the AWS SDK service models (botocore 1.43) every operation in the
      eventname list exists only in AWS Backup, so the list already implies
      eventsource backup.amazonaws.com.
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
    json_extract_scalar(requestparameters, '$.backupVaultName') AS vault,
    coalesce(
        json_extract_scalar(requestparameters, '$.recoveryPointArn'),
        json_extract_scalar(requestparameters, '$.backupPlanId'),
        json_extract_scalar(requestparameters, '$.backupVaultName')
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'backup.amazonaws.com'
    AND eventname IN (
        'DeleteRecoveryPoint',
        'DeleteBackupVault',
        'DeleteBackupPlan',
        'DeleteBackupSelection',
        'UpdateRecoveryPointLifecycle',
        'DisassociateRecoveryPoint',
        'DeleteBackupVaultAccessPolicy',
        'DeleteBackupVaultLockConfiguration'
    )
    -- AWS Backup's own lifecycle expiry, and other services acting for a principal, are recorded with the
    -- service's name as source address; a person's or a key's call carries an IP address.
    AND sourceipaddress NOT LIKE '%.amazonaws.com'
