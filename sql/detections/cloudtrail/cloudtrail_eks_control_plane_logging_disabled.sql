/*
id: cloudtrail_eks_control_plane_logging_disabled
title: EKS control plane logging disabled outside infrastructure-as-code
description: >-
  An UpdateClusterConfig that turns off one or more of an EKS cluster's
  control plane log types (api, audit, authenticator, controllerManager,
  scheduler): a clusterLogging entry naming log types with enabled false.
  The audit and authenticator logs are the only record of who did what
  through the Kubernetes API (mamori does not collect Kubernetes API
  activity itself), so turning them off hides what follows in the
  cluster. Denied attempts count too: trying is the signal. Changes by the
  reviewed infrastructure-as-code pipelines (lookup iac_principals;
  Terraform dropping a log type from enabled_cluster_log_types) and by an
  AWS service on the caller's behalf (invokedBy) are not reported.
  Turning logging on, and other cluster settings (zonal shift, compute,
  storage, networking), are not reported.
severity: medium
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.008
dedup:
  keys: [account_id, principal, target]
  period: 1h
threshold: 1
runbook: |-
  1. Read target (the cluster), request_parameters (which log types were
     turned off) and error_code.
  2. Check the cluster now: `aws eks describe-cluster --name <target>
     --region <aws_region> --query cluster.logging`.
  3. Ask the cluster's owners for the change; logging is set in code.
  4. If unexplained: turn the log types back on (`aws eks
     update-cluster-config --name <target> --logging
     '{"clusterLogging":[{"types":["api","audit","authenticator"],"enabled":true}]}'`),
     review the audit log up to event_time for what the actor did in the
     cluster (access entries: cloudtrail_eks_cluster_admin_granted), and
     contain the actor.
false_positives:
  - An engineer cutting log cost on a development cluster by hand.
references:
  - https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html
  - https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateClusterConfig.html
  - https://github.com/elastic/detection-rules/blob/main/rules/integrations/aws/defense_evasion_eks_control_plane_logging_disabled.toml
  - https://attack.mitre.org/techniques/T1562/008/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'eks.amazonaws.com'"
    reason: >-
      Per botocore 1.43's service models UpdateClusterConfig is an operation
      of EKS only, so no other service's event has that name.
*/
SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    errorcode AS error_code,
    eventid AS event_id,
    requestparameters AS request_parameters,
    coalesce(useridentity.arn, useridentity.principalid) AS actor,
    {{ principal() }} AS principal,
    json_extract_scalar(requestparameters, '$.name') AS target
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'eks.amazonaws.com'
    AND eventname = 'UpdateClusterConfig'
    -- A log setup naming at least one type, then enabled false (botocore's LogSetup member order, which the SDKs
    -- and the console send), or enabled false before its types. Other settings' "enabled" (zonalShiftConfig,
    -- computeConfig, storageConfig) carry no types and do not match.
    AND (
        regexp_like(
            coalesce(requestparameters, ''),
            '"clusterLogging"\s*:\s*\[.*\{\s*"types"\s*:\s*\[\s*"[^\]]*\]\s*,\s*"enabled"\s*:\s*false'
        )
        OR regexp_like(
            coalesce(requestparameters, ''),
            '"clusterLogging"\s*:\s*\[.*\{\s*"enabled"\s*:\s*false\s*,\s*"types"\s*:\s*\[\s*"'
        )
    )
    AND useridentity.invokedby IS NULL
    AND NOT contains(
        {{ lookup('iac_principals') }},
        coalesce(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn, '')
    )
