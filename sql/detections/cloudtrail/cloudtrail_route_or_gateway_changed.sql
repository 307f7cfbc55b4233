/*
id: cloudtrail_route_or_gateway_changed
title: VPC route table or internet gateway changed
description: >-
  Network paths of a VPC changed: a route was created, replaced or deleted
  (CreateRoute, ReplaceRoute, DeleteRoute), a route table was created,
  deleted or swapped on a subnet (CreateRouteTable, DeleteRouteTable,
  ReplaceRouteTableAssociation, DisassociateRouteTable), or an internet
  gateway was created, attached, detached or deleted
  (CreateInternetGateway, AttachInternetGateway, DetachInternetGateway,
  DeleteInternetGateway). Attackers reroute traffic through an instance or
  gateway they control, give private subnets a direct path to the internet
  for exfiltration, or detach gateways to disrupt service. Such changes are
  routine in infrastructure-as-code, so this is a low-severity signal for
  correlation; alerts are grouped per actor per hour. Only successful calls
  are reported.
severity: low
status: stable
log_source: cloudtrail
mitre:
  - TA0005:T1562.007
  - TA0010:T1048
dedup:
  keys: [account_id, principal]
  period: 1h
threshold: 1
runbook: |-
  1. Read request_parameters: destinationCidrBlock /
     destinationIpv6CidrBlock and the next hop (gatewayId, natGatewayId,
     instanceId, networkInterfaceId, vpcPeeringConnectionId,
     transitGatewayId). A 0.0.0.0/0 or ::/0 route to an internet gateway in
     a private subnet's table, or a route to an instance or ENI, is the case
     to chase.
  2. See the table now and which subnets use it: `aws ec2
     describe-route-tables --route-table-ids <target> --region <aws_region>`;
     for gateways `aws ec2 describe-internet-gateways
     --internet-gateway-ids <target>`.
  3. Ask the actor's team for the change ticket; infrastructure-as-code
     changes come from a known role and user_agent, in bulk.
  4. If unplanned: restore the route (`aws ec2 replace-route ...` or `aws
     ec2 delete-route --route-table-id <target> --destination-cidr-block
     <cidr>`), detach rogue gateways, review VPC flow logs of the affected
     subnets since event_time for new internet traffic, and contain the
     actor if the change was malicious.
false_positives:
  - VPC, subnet and peering changes by infrastructure-as-code pipelines
    and network teams.
  - Services that manage routes on your behalf with your credentials (for
    example VPN or SD-WAN appliances updating routes during failover).
references:
  - https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Route_Tables.html
  - https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Internet_Gateway.html
  - https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateRoute.html
  - https://attack.mitre.org/techniques/T1562/007/
  - https://attack.mitre.org/techniques/T1048/
owner: security-engineering
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
        json_extract_scalar(requestparameters, '$.routeTableId'),
        json_extract_scalar(requestparameters, '$.internetGatewayId'),
        json_extract_scalar(requestparameters, '$.associationId'),
        json_extract_scalar(requestparameters, '$.vpcId'),
        json_extract_scalar(
            responseelements, '$.internetGateway.internetGatewayId'
        )
    ) AS target,
    coalesce(
        json_extract_scalar(requestparameters, '$.destinationCidrBlock'),
        json_extract_scalar(requestparameters, '$.destinationIpv6CidrBlock'),
        json_extract_scalar(requestparameters, '$.destinationPrefixListId')
    ) AS destination
FROM cloudtrail
WHERE
    {{ window() }}
    AND eventsource = 'ec2.amazonaws.com'
    AND eventname IN (
        'CreateRoute',
        'ReplaceRoute',
        'DeleteRoute',
        'CreateRouteTable',
        'DeleteRouteTable',
        'ReplaceRouteTableAssociation',
        'DisassociateRouteTable',
        'CreateInternetGateway',
        'AttachInternetGateway',
        'DetachInternetGateway',
        'DeleteInternetGateway'
    )
    AND errorcode IS NULL
