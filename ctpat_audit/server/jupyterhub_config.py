"""JupyterHub configuration of a ctpat-audit team server.

``ctpat-audit hub -w WORKSPACE`` runs JupyterHub with this file. To run the hub yourself
(under systemd, behind your own TLS proxy...), copy it, adjust the settings marked
"may change" below, and start::

    CTPAT_WORKSPACE=/srv/ctpat/workspace jupyterhub -f /etc/ctpat/jupyterhub_config.py

``ctpat-audit hub --config-file`` prints where the installed copy is. Every line is plain
JupyterHub configuration; ``configure`` sets the rules the toolkit relies on (see
``ctpat_audit/server/hub_config.py``): change those only if you know what the toolkit then
stops checking.
"""
import os

from ctpat_audit.server.hub_config import configure

c = get_config()  # type: ignore[name-defined]  # noqa: F821 (JupyterHub provides it)

# -- The rules of the toolkit ---------------------------------------------------------------
# The workspace this hub serves. Its `people` table decides who may sign in: an active person
# whose hub user name is the sign-in name. Roles (specialist, supervisor, admin) come from
# there too; hub admins are the people whose role is admin.
#   ctpat-audit people add -w WORKSPACE --hub-user ana --name "Ana Diaz" \
#       --email ana.diaz@cbp.example --role specialist
#
# The authenticator: "native" (password accounts: people sign up at /hub/signup and an admin
# approves them at /hub/authorize) or "pam" (the machine's system accounts; run the hub as
# root, each person's server then runs under their own account, and the workspace folder
# must be writable by a group they all belong to).
configure(c, workspace=os.environ["CTPAT_WORKSPACE"],
          authenticator=os.environ.get("CTPAT_HUB_AUTHENTICATOR", "native"))

# What configure() set, which you may change after it:
#
# Where the hub listens. 127.0.0.1 keeps it to this machine; to serve a team on the network,
# put it behind TLS (a reverse proxy, or the two ssl settings) and listen on an address of
# the network:
# c.JupyterHub.ip = "127.0.0.1"
# c.JupyterHub.port = 8000
# c.JupyterHub.ssl_cert = "/etc/ssl/certs/ctpat.pem"
# c.JupyterHub.ssl_key = "/etc/ssl/private/ctpat.key"
#
# Password accounts (native): length, common passwords refused, sign-in attempts before a
# wait of seconds_before_next_try.
# c.NativeAuthenticator.minimum_password_length = 10
# c.NativeAuthenticator.check_common_password = True
# c.NativeAuthenticator.allowed_failed_logins = 5
# c.NativeAuthenticator.seconds_before_next_try = 600
#
# PAM: only members of a system group may sign in (the people table still applies):
# c.PAMAuthenticator.allowed_groups = {"ctpat"}
#
# How often (seconds) a signed-in person is checked again against the people table; a
# person deactivated meanwhile is refused from the next check on (and always before a server
# starts).
# c.Authenticator.auth_refresh_age = 60
#
# The hub's state: its database (accounts, password hashes, tokens) and cookie secret, mode
# 0600 in WORKSPACE/hub/ (a folder of mode 0700).
# c.JupyterHub.db_url = "sqlite:///WORKSPACE/hub/jupyterhub.sqlite"
# c.JupyterHub.cookie_secret_file = "WORKSPACE/hub/jupyterhub_cookie_secret"
#
# Stop servers idle for an hour: install jupyterhub-idle-culler and add it as a service.
