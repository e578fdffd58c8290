/**
 * The CRM export of examples/crm-export, in JavaScript: every user sent to a CRM that answers
 * 429 and goes down for maintenance, each request journaled, none sent twice.
 *
 * Build (componentize-js 0.23.0 from npm, see the README):
 *
 *     componentize-js examples/crm-export-js/app.js --wit guest-sdk/wit -n function \
 *         -o crm_export_js.wasm
 *
 * Functions: `export_users` (one child per user, then gathers their CRM ids), `send_user` (one
 * user), `export_in_order` (one user after another, in this invocation).
 */

import * as reprise from "../../guest-sdk-js/reprise/index.js";

function usersUrl(crmUrl) {
  return `${crmUrl.replace(/\/+$/, "")}/services/data/v52.0/sobjects/User`;
}

function create(url, token, user) {
  const created = reprise.http
    .post(url, {
      bearer: token,
      json: { FirstName: user.first_name, LastName: user.last_name, Email: user.email },
    })
    .raiseForStatus()
    .json();
  if (created.success === false) {
    throw new reprise.Error(`the CRM did not create user ${user.id} (${user.email})`);
  }
  reprise.log.info(`exported user ${user.id} as ${created.id}`);
  return created.id;
}

export const guest = reprise.functions({
  export_users({ crm_url, token, users }) {
    const handles = users.map((user) => reprise.dispatch("send_user", { crm_url, token, user }));
    const crmIds = reprise.gather(handles);
    return { exported: crmIds.length, crm_ids: crmIds };
  },

  send_user({ crm_url, token, user }) {
    return create(usersUrl(crm_url), token, user);
  },

  export_in_order({ crm_url, token, users }) {
    const url = usersUrl(crm_url);
    const crmIds = users.map((user) => create(url, token, user));
    return { exported: crmIds.length, crm_ids: crmIds };
  },
});
