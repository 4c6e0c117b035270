"""EC2: a resource's own tags are looked up, not searched for.

AWS answers a `tag:` filter of a Describe call (DescribeSecurityGroups, DescribeLaunchTemplates,
…) in time that does not grow with the square of the account's resources.

moto 5.2.5 found one resource's tags by running DescribeTags over every tag of every EC2 resource
(a regular expression per tag), once per resource a filter looked at, so a filtered listing of n
resources took time in n²: DescribeSecurityGroups over 620 groups took about 5 s, which no
benchmark of ftctl should measure.

Here `TaggedEC2Resource.get_tags` reads the resource's entry of the same tag store directly and
gives the same records (resource id, key, value, resource type) in the same order.
"""

from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix


def get_tags(self):
    if not self.id:
        return []
    tags = self.ec2_backend.tags.get(self.id, {})
    kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(self.id), "")
    return [
        {"resource_id": self.id, "key": key, "value": value, "resource_type": kind}
        for key, value in tags.items()
    ]


TaggedEC2Resource.get_tags = get_tags
