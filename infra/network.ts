/**
 * A two-AZ VPC (RDS needs a subnet group in two AZs) with NAT, so functions
 * reach RDS privately and the brokers, KMS and Secrets Manager through one
 * egress address. Functions run only in the first private subnet: each AZ
 * has its own NAT and IP, and Kiwoom rejects a token used from another IP
 * than the one that issued it (error 8010). See the README's Deploy section for the cost.
 */
import { AVAILABILITY_ZONES } from "./settings";
import { settings } from "./stage";

const { natType, natEipAllocationIds, bastion } = settings.network;

export const vpc = new sst.aws.Vpc("Vpc", {
  az: AVAILABILITY_ZONES,
  nat: natEipAllocationIds ? { type: natType, ip: natEipAllocationIds } : natType,
  bastion,
});

/** Where every function runs: one subnet, hence one NAT, hence one egress IP. */
export const functionNetwork = {
  privateSubnets: vpc.privateSubnets.apply((subnets) => subnets.slice(0, 1)),
  securityGroups: vpc.securityGroups,
};

/** The address brokers see; register it with Kiwoom and use it for trading too. */
export const egressIp = vpc.nodes.elasticIps.apply((ips) => {
  const first = ips[0];
  if (!first) throw new Error("The VPC has no NAT Elastic IP, so there is no stable egress IP.");
  return first.publicIp;
});
