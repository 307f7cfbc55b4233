/*
id: cloudtrail_config_recording_stopped
title: AWS Config recording stopped or Config rules deleted
description: >-
  AWS Config stopped recording or lost part of its evaluation: the
  configuration recorder was stopped (StopConfigurationRecorder) or deleted
  (DeleteConfigurationRecorder, DeleteServiceLinkedConfigurationRecorder),
  the delivery channel that writes configuration history and snapshots was
  deleted (DeleteDeliveryChannel), or a Config rule was deleted
  (DeleteConfigRule, DeleteOrganizationConfigRule). Attackers do this to
  hide resource changes and compliance drift from the configuration
  timeline. Config rules that AWS services manage for themselves (Security
  Hub controls, Firewall Manager policies, conformance packs) are deleted by
  those services when a control or pack is removed; those calls, made with
  invokedBy set to the service, are not reported. Only successful calls are
  reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.008
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Check the recorder and channel in the alert's aws_region: `aws
     configservice describe-configuration-recorder-status --region
     <aws_region>` (recording true/false, lastStatus) and `aws configservice
     describe-delivery-channels --region <aws_region>`; for a deleted rule,
     target names it (`aws configservice describe-config-rules`).
  2. Ask the actor's team for the change ticket; in an organization, Config
     is usually managed by Control Tower or a central security role only.
  3. Review what the actor did while recording was off: SELECT event_time,
     eventsource, eventname, errorcode FROM cloudtrail WHERE
     useridentity.arn = '<actor>' AND dt BETWEEN '<day>' AND '<day+1>'
     ORDER BY event_time.
  4. If unplanned: restart recording (`aws configservice
     start-configuration-recorder --configuration-recorder-name <target>`),
     recreate the delivery channel or rule from infrastructure-as-code,
     contain the actor, and add an SCP denying config:StopConfigurationRecorder,
     config:Delete* outside the administration role.
false_positives:
  - Decommissioning an account or region, or Control Tower / landing-zone
    changes that recreate the recorder, under a change ticket.
  - Engineers deleting Config rules they own during cleanup.
references:
  - https://docs.aws.amazon.com/config/latest/developerguide/stop-start-recorder.html
  - https://docs.aws.amazon.com/config/latest/APIReference/API_StopConfigurationRecorder.html
  - https://docs.aws.amazon.com/config/latest/APIReference/API_DeleteDeliveryChannel.html
  - https://attack.mitre.org/techniques/T1562/008/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'config.amazonaws.com'"
    reason: >-
      StopConfigurationRecorder, DeleteConfigurationRecorder,
      DeleteServiceLinkedConfigurationRecorder, DeleteDeliveryChannel,
      DeleteOrganizationConfigRule and DeleteConfigRule are operations of
      AWS Config only: no other service model in botocore 1.43 has an
      operation of any of those names (CloudWatch Logs' delivery APIs are
      DeleteDelivery*), so the eventname conditions already imply
      eventsource config.amazonaws.com.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    requestparameters AS request_parameters,
    eventid AS event_id,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    coalesce(
        json_extract_scalar(requestparameters, '$.configurationRecorderName'),
        json_extract_scalar(requestparameters, '$.deliveryChannelName'),
        json_extract_scalar(requestparameters, '$.configRuleName'),
        json_extract_scalar(requestparameters, '$.organizationConfigRuleName'),
        json_extract_scalar(requestparameters, '$.servicePrincipal')
    ) AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'config.amazonaws.com'
    AND errorcode IS NULL
    AND (
        eventname IN (
            'StopConfigurationRecorder',
            'DeleteConfigurationRecorder',
            'DeleteServiceLinkedConfigurationRecorder',
            'DeleteDeliveryChannel',
            'DeleteOrganizationConfigRule'
        )
        OR (
            eventname = 'DeleteConfigRule'
            AND coalesce(useridentity.invokedby, '') NOT IN (
                'securityhub.amazonaws.com',
                'fms.amazonaws.com',
                'config-conforms.amazonaws.com'
            )
        )
    )
