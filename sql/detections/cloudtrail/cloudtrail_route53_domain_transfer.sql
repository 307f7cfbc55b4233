/*
id: cloudtrail_route53_domain_transfer
title: Route 53 domain transfer lock removed or domain transferred away
description: >-
  A registered domain was prepared for or sent to a transfer: a successful
  DisableDomainTransferLock (the lock that stops transfers to another
  registrar), TransferDomainToAnotherAwsAccount (moves the registration to
  another AWS account) or RetrieveDomainAuthCode (the code another
  registrar needs to take the domain). Losing a domain hands its DNS, mail
  and certificates to whoever holds it. Route 53 Domains logs these calls
  in us-east-1.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0042:T1584.001
  - TA0003:T1098
dedup:
  keys: [account_id, target]
  period: 1h
threshold: 1
runbook: |-
  1. Check the domain: `aws route53domains get-domain-detail --region
     us-east-1 --domain-name <target>` (StatusList: clientTransferProhibited
     missing means the lock is off) and pending operations: `aws
     route53domains list-operations --region us-east-1`.
  2. For TransferDomainToAnotherAwsAccount, the receiving account is in
     request_parameters (accountId); ask the domain owner whether that
     account is theirs.
  3. If unexplained: cancel the transfer (`aws route53domains
     cancel-domain-transfer-to-another-aws-account --domain-name
     <target>`), re-enable the lock (`aws route53domains
     enable-domain-transfer-lock --domain-name <target>`), contain the
     actor and contact AWS Support.
  4. Deny route53domains:DisableDomainTransferLock,
     TransferDomainToAnotherAwsAccount and RetrieveDomainAuthCode outside
     a break-glass role with an SCP.
false_positives:
  - Planned moves of a domain between the company's own AWS accounts or to
    another registrar.
references:
  - https://docs.aws.amazon.com/Route53/latest/APIReference/API_domains_TransferDomainToAnotherAwsAccount.html
  - https://docs.aws.amazon.com/Route53/latest/APIReference/API_domains_DisableDomainTransferLock.html
  - https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/logging-using-cloudtrail.html
  - https://attack.mitre.org/techniques/T1584/001/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: eventsource = 'route53domains.amazonaws.com'"
    reason: >-
      DisableDomainTransferLock, TransferDomainToAnotherAwsAccount and
      RetrieveDomainAuthCode are operations of Route 53 Domains only per the
      AWS SDK service models (botocore 1.43), so the eventname list already
      implies eventsource route53domains.amazonaws.com.
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
    json_extract_scalar(requestparameters, '$.domainName') AS target,
    json_extract_scalar(requestparameters, '$.accountId') AS receiving_account
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'route53domains.amazonaws.com'
    AND eventname IN (
        'DisableDomainTransferLock', 'TransferDomainToAnotherAwsAccount', 'RetrieveDomainAuthCode'
    )
    AND errorcode IS NULL
