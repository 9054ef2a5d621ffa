"""[mail]: the From address is checked where the config is read, and reaches the function as function_env says."""

from __future__ import annotations

import pytest

from wp_lambda.config import Config, ConfigError, parse
from wp_lambda.function_env import LocalStandIns, function_environment
from wp_lambda.runtime import contract

DOMAIN = ('[site]\ndomains = ["blog.example.com"]\n'
          'certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f"\n')


def _problem(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse(text)
    return str(info.value)


@pytest.mark.parametrize("value", ["not an address", "WordPress <wp@example.com>", "a@b", "a@@example.com",
                                   "wp@example.com\nBcc: x@example.com", "wp${AWS::Region}@example.com",
                                   "w*@example.com", "w?@example.com", "{wp}@example.com"])
def test_a_from_that_is_no_bare_address_names_the_key_and_the_fix(value: str) -> None:
    message = _problem(f"[mail]\nfrom = {value!r}\n".replace("'", '"').replace("\n\"", "\\n\""))
    assert "mail.from" in message and "is not an e-mail address" in message and "mail.from_name" in message


def test_creating_the_identity_needs_the_site_domain_and_a_from_on_it() -> None:
    message = _problem("[mail]\ncreate_identity = true\n")
    assert "mail.create_identity" in message and "site.domains" in message
    message = _problem(DOMAIN + '[mail]\ncreate_identity = true\nfrom = "wp@other.example"\n')
    assert "mail.from" in message and "@blog.example.com" in message
    config = parse(DOMAIN + "[mail]\ncreate_identity = true\n")
    assert config.mail.sender(config.site.domains) == "wordpress@blog.example.com"


def test_the_from_defaults_to_the_site_domain_and_the_region_to_the_stack() -> None:
    config = parse(DOMAIN + '[aws]\nregion = "eu-west-1"\n')
    env = {v.name: v.value for v in function_environment(config)}
    assert env[contract.MAIL_ENV] == contract.MAIL_SES
    assert env[contract.MAIL_FROM_ENV] == "wordpress@blog.example.com"
    assert env[contract.MAIL_REGION_ENV] == "eu-west-1"
    config = parse(DOMAIN + '[mail]\nfrom = "news@blog.example.com"\nfrom_name = "The Blog"\nregion = "us-west-2"\n')
    env = {v.name: v.value for v in function_environment(config)}
    assert (env[contract.MAIL_FROM_ENV], env[contract.MAIL_FROM_NAME_ENV], env[contract.MAIL_REGION_ENV]) == \
        ("news@blog.example.com", "The Blog", "us-west-2")


def test_mail_off_leaves_wordpress_its_own_and_serve_always_keeps_mail(tmp_path: object) -> None:
    config = parse("[mail]\nenabled = false\n")
    assert not any(v.name.startswith("WPLAMBDA_MAIL") for v in function_environment(config))
    local = LocalStandIns(salt="s", database={}, uploads={}, mail_dir="/state/mail")
    env = {v.name: v.value for v in function_environment(config, local=local)}
    assert (env[contract.MAIL_ENV], env[contract.MAIL_DIR_ENV]) == (contract.MAIL_LOCAL, "/state/mail")
    # No mail.from nor site.domains: an address WordPress's is_email() takes, not wordpress@localhost.
    assert env[contract.MAIL_FROM_ENV] == "wordpress@wplambda.test"
    assert contract.MAIL_REGION_ENV not in env


def test_the_default_config_sends_through_ses_with_wordpress_own_from() -> None:
    env = {v.name: v.value for v in function_environment(Config())}
    assert env[contract.MAIL_ENV] == contract.MAIL_SES and env[contract.MAIL_FROM_ENV] == ""
