/*
id: syslog_ssh_brute_force
title: SSH password guessing from one source address
description: >-
  Ten or more failed SSH authentication attempts from the same source
  address against hosts of one account within an aligned 15-minute bucket
  (CloudWatch Logs copies of /var/log/secure or auth.log). One attempt is
  counted once: "Failed password/keyboard-interactive for <user>" for an
  existing user, "Invalid user <user>" for a name that does not exist (the
  "Failed password for invalid user" line that follows it is not counted
  again). Attempts against several hosts of the fleet add up, so a spray
  across instances is caught too. Internet background scanners try a few
  passwords per address and stay below the threshold.
severity: medium
status: stable
log_source: cloudwatch
mitre:
  - TA0006:T1110.001
  - TA0006:T1110.003
dedup:
  keys: [account_id, source_ip]
  period: 15m
threshold: 10
runbook: |-
  1. List the source's SSH events around the alert, oldest first:
     SELECT event_time, log_stream, hostname, ssh_event, ssh_user, message
     FROM cloudwatch WHERE ssh_src_ip = '<source_ip>'
     AND account_id = '<account_id>' AND dt = '<day>' ORDER BY event_time.
  2. Look for an accepted_* event from the same source_ip after the
     failures (syslog_ssh_password_login_from_internet alerts on it): a
     success means a likely compromise; go to step 4.
  3. Check exposure: which security group lets the source reach port 22
     (`aws ec2 describe-instances --instance-ids <log_stream>` then
     `aws ec2 describe-security-groups --group-ids <sg>`), and whether
     PasswordAuthentication is enabled in /etc/ssh/sshd_config.
  4. Contain: restrict port 22 to the bastion / use SSM Session Manager,
     set PasswordAuthentication no, block source_ip in the network ACL;
     on a success, isolate the instance (quarantine security group), snapshot
     its volumes and rotate credentials present on it.
false_positives:
  - An internal vulnerability scanner or configuration audit testing SSH
    logins (known source address, usually inside the VPC).
  - A user or script retrying a wrong password or key many times from one
    address (usually a private bastion address and a known user name).
references:
  - https://attack.mitre.org/techniques/T1110/001/
  - https://attack.mitre.org/techniques/T1110/003/
  - https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html
owner: security-engineering
*/
SELECT
    event_time,
    account_id,
    ssh_src_ip AS source_ip,
    ssh_event AS event_name,
    ssh_user AS actor,
    log_group,
    log_stream,
    hostname,
    message
FROM cloudwatch
WHERE
    {{ window() }}
    AND ssh_src_ip IS NOT NULL
    AND (
        ssh_event = 'invalid_user'
        OR (
            ssh_event IN ('failed_password', 'failed_keyboard_interactive')
            AND NOT regexp_like(msg, '^Failed \S+ for invalid user ')
        )
    )
