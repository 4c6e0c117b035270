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


def describe_launch_templates(self):
    max_results = self._get_int_param("MaxResults", 15)
    start = int(self._get_param("NextToken") or 0)
    template_names = self._get_param("LaunchTemplateNames", [])
    template_ids = self._get_param("LaunchTemplateIds", [])
    filters = self._filters_from_querystring()
    self.error_on_dryrun()
    templates = self.ec2_backend.describe_launch_templates(
        template_names=template_names,
        template_ids=template_ids,
        filters=filters,
    )
    page = templates[start : start + max_results]
    result = {
        "LaunchTemplates": [
            {
                "CreateTime": template.create_time,
                "CreatedBy": f"arn:{self.partition}:iam::{self.current_account}:root",
                "DefaultVersionNumber": template.default_version_number,
                "LatestVersionNumber": template.latest_version_number,
                "LaunchTemplateId": template.id,
                "LaunchTemplateName": template.name,
                "Tags": template.tags,
            }
            for template in page
        ]
    }
    if start + max_results < len(templates):
        result["NextToken"] = str(start + max_results)
    return ActionResult(result)


def describe_launch_template_versions(self):
    max_results = self._get_int_param("MaxResults", 15)
    start = int(self._get_param("NextToken") or 0)
    self.error_on_dryrun()
    # Everything that matches (moto's own selection, uncut), then the page of it.
    every = self.ec2_backend.describe_launch_template_versions(
        template_name=self._get_param("LaunchTemplateName"),
        template_id=self._get_param("LaunchTemplateId"),
        versions=self._get_param("Versions", []),
        min_version=self._get_int_param("MinVersion"),
        max_version=self._get_int_param("MaxVersion"),
        max_results=10**9,
    )
    page = every[start : start + max_results]
    result = {
        "LaunchTemplateVersions": [
            {
                "CreateTime": version.create_time,
                "CreatedBy": f"arn:{self.partition}:iam::{self.current_account}:root",
                "DefaultVersion": template.is_default(version),
                "LaunchTemplateData": version.data,
                "LaunchTemplateId": template.id,
                "LaunchTemplateName": template.name,
                "VersionDescription": version.description,
                "VersionNumber": version.number,
            }
            for template, version in page
        ]
    }
    if start + max_results < len(every):
        result["NextToken"] = str(start + max_results)
    return ActionResult(result)


LaunchTemplates.describe_launch_templates = describe_launch_templates
LaunchTemplates.describe_launch_template_versions = describe_launch_template_versions
