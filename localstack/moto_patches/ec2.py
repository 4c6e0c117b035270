"""EC2 network ACLs.

- A subnet is always on exactly one network ACL, and its association goes with it: "When you
  delete a subnet, its association with a network ACL is removed" (VPC User Guide, "Network ACL
  basics"), so the ACL can then be deleted. moto kept the association of a deleted subnet, and
  DeleteNetworkAcl then failed with DependencyViolation for ever. Here deleting a subnet drops
  its associations.
"""

from moto.ec2.models.subnets import SubnetBackend

_delete_subnet = SubnetBackend.delete_subnet


def delete_subnet_and_its_acl_association(self, subnet_id):
    subnet = _delete_subnet(self, subnet_id)
    for acl in getattr(self, "network_acls", {}).values():
        for key in [k for k, a in acl._associations.items() if a.subnet_id == subnet_id]:
            del acl._associations[key]
    return subnet


SubnetBackend.delete_subnet = delete_subnet_and_its_acl_association
