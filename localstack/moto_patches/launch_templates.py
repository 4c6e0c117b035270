"""EC2 DescribeLaunchTemplates and DescribeLaunchTemplateVersions page their answers.

AWS (EC2 API reference, DescribeLaunchTemplates and DescribeLaunchTemplateVersions):
`MaxResults` (1–200) bounds a page, and a `NextToken` in the answer leads to the next one until
everything that matches is listed.

moto 5.2.5 cut both answers at `MaxResults` (15 when not given) and gave no `NextToken`, so a
caller that follows the pages as AWS requires still never saw the 16th template of a filter, nor
the 16th template's default version when asking for every template's `$Default`.

Here both are answered in pages of `MaxResults` (default 15, as moto chose), each but the last
with a `NextToken` naming where the next page starts.
"""

from moto.core.responses import ActionResult
from moto.ec2.responses.launch_templates import LaunchTemplates

_EVERYTHING = 10**9


def _paged(handler, items):
    """`handler` answering in pages of its `items` list."""

    def paged(self):
        size = self._get_int_param("MaxResults", 15)
        start = int(self._get_param("NextToken") or 0)
        get_int = self._get_int_param
        # moto's handler, with MaxResults lifted so that it cuts nothing.
        self._get_int_param = lambda name, if_none=None: (
            _EVERYTHING if name == "MaxResults" else get_int(name, if_none)
        )
        try:
            answer = dict(handler(self).result)
        finally:
            del self._get_int_param
        every = answer[items]
        answer[items] = every[start : start + size]
        if start + size < len(every):
            answer["NextToken"] = str(start + size)
        return ActionResult(answer)

    return paged


LaunchTemplates.describe_launch_templates = _paged(
    LaunchTemplates.describe_launch_templates, "LaunchTemplates"
)
LaunchTemplates.describe_launch_template_versions = _paged(
    LaunchTemplates.describe_launch_template_versions, "LaunchTemplateVersions"
)
