"""The CRM export of examples/crm-export, in Python: every user sent to a CRM that answers 429
and goes down for maintenance, each request journaled, none sent twice.

Build (componentize-py 0.25.1, see the README):

    componentize-py -d guest-sdk/wit -w function componentize \\
        -p guest-sdk-python -p examples/crm-export-py app -o crm_export_py.wasm

Functions: `export_users` (one child per user, then gathers their CRM ids), `send_user` (one
user), `export_in_order` (one user after another, in this invocation).
"""

import reprise
from reprise import Guest  # noqa: F401  (the component's exports)


def users_url(crm_url):
    return crm_url.rstrip("/") + "/services/data/v52.0/sobjects/User"


def create(url, token, user):
    response = reprise.http.post(
        url,
        bearer=token,
        json={
            "FirstName": user["first_name"],
            "LastName": user["last_name"],
            "Email": user["email"],
        },
    ).raise_for_status()
    created = response.json()
    if created.get("success") is False:
        raise reprise.Error(f"the CRM did not create user {user['id']} ({user['email']})")
    reprise.log.info(f"exported user {user['id']} as {created['id']}")
    return created["id"]


@reprise.function
def export_users(export):
    handles = [
        reprise.dispatch(
            "send_user",
            {"crm_url": export["crm_url"], "token": export["token"], "user": user},
        )
        for user in export["users"]
    ]
    crm_ids = reprise.gather(handles)
    return {"exported": len(crm_ids), "crm_ids": crm_ids}


@reprise.function
def send_user(job):
    return create(users_url(job["crm_url"]), job["token"], job["user"])


@reprise.function
def export_in_order(export):
    url = users_url(export["crm_url"])
    crm_ids = [create(url, export["token"], user) for user in export["users"]]
    return {"exported": len(crm_ids), "crm_ids": crm_ids}
