/*
id: cloudtrail_vpc_peering_external_account
title: VPC peering with an account outside the organization
description: >-
  A VPC peering connection requested to, or accepted from, an account that
  is neither the caller's own nor on the reviewed list
  sql/lookups/known_accounts.yaml: CreateVpcPeeringConnection naming an
  unknown peerOwnerId (denied and failed attempts included: trying is the
  signal), or AcceptVpcPeeringConnection of a request whose requester VPC
  an unknown account owns. Once routes follow, the peer's network reaches
  the VPC's instances and databases directly, past the assumptions of
  security groups written for one organization: a path for exfiltration
  and lateral movement that needs no further API calls. Peering inside the
  account or with known accounts (Terraform-managed multi-account
  networks) is not reported.
severity: high
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1599
  - TA0010:T1537
  - TA0008:T1021.007
dedup:
  keys: [account_id, principal, peer_account]
  period: 1h
threshold: 1
runbook: |-
  1. Read event_name, target (the peering connection), vpc_id,
     peer_account and error_code.
  2. Check the connection: `aws ec2 describe-vpc-peering-connections
     --vpc-peering-connection-ids <target> --region <aws_region>`, and
     which route tables now route to it (`aws ec2 describe-route-tables
     --filters Name=route.vpc-peering-connection-id,Values=<target>`).
  3. Ask the network team: is peer_account a partner whose connection was
     reviewed? Then it belongs in sql/lookups/known_accounts.yaml (a
     reviewed change).
  4. If unexplained: `aws ec2 delete-vpc-peering-connection`, remove the
     routes, review the VPC's flow logs for traffic to the peer's CIDR
     since event_time, and contain the actor.
false_positives:
  - A partner or vendor connection set up under a change ticket before
    its account was added to sql/lookups/known_accounts.yaml.
references:
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcPeeringConnection.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AcceptVpcPeeringConnection.html
  - https://github.com/SigmaHQ/sigma/blob/master/rules/cloud/aws/cloudtrail/aws_ec2_vpc_peering_connection_to_external_account.yml
  - https://attack.mitre.org/techniques/T1599/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop peerings.where: eventsource = 'ec2.amazonaws.com'"
    reason: >-
      The only other CreateVpcPeeringConnection in the AWS SDK service
      models (botocore 1.43), GameLift's, takes FleetId, PeerVpcAwsAccountId
      and PeerVpcId and no PeerOwnerId, so its peer resolves to the caller's
      own account and is never reported (case
      denied_acceptance_and_other_peering_calls); AcceptVpcPeeringConnection
      is EC2's only.
  - mutant: "drop peerings.where: eventname IN ('CreateVpcPeeringConnection', 'AcceptVpcPeeringConnection')"
    reason: >-
      Any other event takes the acceptance branch, which reads
      vpcPeeringConnection.requesterVpcInfo from the response; per botocore
      1.43's EC2 model only CreateVpcPeeringConnection and
      AcceptVpcPeeringConnection return a VpcPeeringConnection member
      (DescribeVpcPeeringConnections returns a list, and CloudTrail records
      no response for reads), so every other event's peer is NULL.
*/
WITH peerings AS (
    SELECT
        event_time,
        account_id,
        sourceipaddress,
        eventname,
        awsregion,
        useragent,
        errorcode,
        eventid,
        coalesce(useridentity.arn, useridentity.principalid) AS actor,
        {{ principal() }} AS principal,
        coalesce(
            json_extract_scalar(responseelements, '$.vpcPeeringConnection.vpcPeeringConnectionId'),
            json_extract_scalar(requestparameters, '$.vpcPeeringConnectionId')
        ) AS target,
        coalesce(
            json_extract_scalar(requestparameters, '$.vpcId'),
            json_extract_scalar(responseelements, '$.vpcPeeringConnection.accepterVpcInfo.vpcId')
        ) AS vpc_id,
        -- A request names the peer (no peerOwnerId: the caller's own account); an acceptance's peer is the
        -- requester, known only from the response, so a denied acceptance names no peer.
        CASE
            WHEN eventname = 'CreateVpcPeeringConnection'
                THEN coalesce(json_extract_scalar(requestparameters, '$.peerOwnerId'), account_id)
            ELSE json_extract_scalar(responseelements, '$.vpcPeeringConnection.requesterVpcInfo.ownerId')
        END AS peer_account
    FROM cloudtrail
    WHERE
        {{ window() }}
        AND eventsource = 'ec2.amazonaws.com'
        AND eventname IN ('CreateVpcPeeringConnection', 'AcceptVpcPeeringConnection')
)

SELECT
    event_time,
    account_id,
    sourceipaddress AS source_ip,
    eventname AS event_name,
    awsregion AS aws_region,
    useragent AS user_agent,
    errorcode AS error_code,
    eventid AS event_id,
    actor,
    principal,
    target,
    vpc_id,
    peer_account
FROM peerings
WHERE
    peer_account <> account_id
    AND NOT contains({{ lookup('known_accounts') }}, peer_account)
