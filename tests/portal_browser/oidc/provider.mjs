// A real OpenID Connect provider (the npm package oidc-provider) for the portal's tests:
// node provider.mjs PORT REDIRECT_URIS(comma-separated) CLIENT_SECRET
// Any login name signs in at its development login page; the name is the account's
// "sub" and its "email" claim. Listens on 127.0.0.1 only.
import Provider from "oidc-provider";

const [port, redirectUris, clientSecret] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "verwijsindex-portal",
      client_secret: clientSecret,
      redirect_uris: redirectUris.split(","),
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  pkce: { required: () => true },
  claims: { openid: ["sub"], email: ["email", "email_verified"] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id, email_verified: true };
      },
    };
  },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ["verwijsindex-test-only-cookie-key"] },
});
provider.proxy = false;
provider.listen(Number(port), "127.0.0.1", () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
