"""EC2 network ACLs.

- A subnet is always on exactly one network ACL; the association is between the two, so it
  ends with the subnet, and DeleteNetworkAcl, refused only "if it's associated with any
  subnets" (EC2 API reference, DeleteNetworkAcl:
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteNetworkAcl.html), then
  deletes the ACL. moto kept the association of a deleted subnet, and DeleteNetworkAcl failed
  with DependencyViolation for ever. Here deleting a subnet drops its associations.
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
