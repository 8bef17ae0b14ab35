// A real OpenID Connect provider for the OAuth tests: npm `oidc-provider` (OpenID-certified), installed
// from the committed package-lock.json with `npm ci`.
//
//   node tests/users_app/oauth_provider.js
//
// It listens on 127.0.0.1 on a free port (PORT=0) and prints one JSON line {"issuer": ...} once ready.
// Environment: TLS_CERT / TLS_KEY (PEM files) serve HTTPS instead of HTTP.
//
// Test-only conveniences, all real protocol underneath:
// - clients come from Dynamic Client Registration (POST /reg), so each test registers exactly the client
//   it needs (signing algorithm, auth method, redirect URIs);
// - the login/consent interaction logs in the account chosen with POST /__test__/account at once, so a
//   plain HTTP client following redirects completes the flow;
// - POST /__test__/clock {"seconds": -7200} issues the next token response with the clock moved, which
//   yields an already expired ID token;
// - GET /__test__/last-token-request tells how the last token request authenticated the client
//   ("basic" = Authorization header; oidc-provider itself accepts client_secret_post and _basic alike).
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');

const CLAIMS = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  // The Immich claims ride on the profile scope so that the default scope "openid email profile" gets them.
  profile: ['name', 'given_name', 'family_name', 'preferred_username', 'immich_quota', 'immich_role'],
};

const state = {
  account: { sub: 'default-subject', claims: { email: 'default@example.com', name: 'Default' } },
  nextTokenClockShift: 0,
  lastTokenRequest: null,
};

function readJson(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      try { resolve(body ? JSON.parse(body) : {}); } catch (error) { reject(error); }
    });
    req.on('error', reject);
  });
}

function withShiftedClock(seconds, run) {
  const realNow = Date.now;
  Date.now = () => realNow() + seconds * 1000;
  return run().finally(() => { Date.now = realNow; });
}

async function main() {
  const { default: Provider } = await import('oidc-provider');
  const tls = process.env.TLS_CERT && process.env.TLS_KEY;
  const server = tls
    ? https.createServer({ cert: fs.readFileSync(process.env.TLS_CERT), key: fs.readFileSync(process.env.TLS_KEY) })
    : http.createServer();
  await new Promise((resolve) => server.listen(Number(process.env.PORT || 0), '127.0.0.1', resolve));
  const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}`;

  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rsa', use: 'sig', alg: 'RS256' };

  const provider = new Provider(issuer, {
    jwks: { keys: [signingKey] },
    claims: CLAIMS,
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => (sub === state.account.sub ? { sub, ...state.account.claims } : { sub }),
    }),
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      jwtUserinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'HS256'],
      userinfoSigningAlgValues: ['RS256', 'HS256'],
    },
    pkce: { required: () => true },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    ttl: {
      AccessToken: 600, AuthorizationCode: 60, IdToken: 3600, Interaction: 600, Session: 3600, Grant: 3600,
    },
  });
  // Plain http on 127.0.0.1 is what the tests use; secure cookies would be refused over it.
  provider.proxy = false;

  provider.use(async (ctx, next) => {
    if (ctx.path === '/__test__/account' && ctx.method === 'POST') {
      const body = await readJson(ctx.req);
      state.account = { sub: String(body.sub), claims: body.claims || {} };
      ctx.body = { ok: true };
      return;
    }
    if (ctx.path === '/__test__/clock' && ctx.method === 'POST') {
      state.nextTokenClockShift = Number((await readJson(ctx.req)).seconds || 0);
      ctx.body = { ok: true };
      return;
    }
    if (ctx.path.startsWith('/interaction/') && ctx.method === 'GET') {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      if (details.prompt.name === 'login') {
        await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: state.account.sub } },
          { mergeWithLastSubmission: false });
      } else {
        const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
        grant.addOIDCScope(String(details.params.scope || 'openid'));
        const grantId = await grant.save();
        await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } },
          { mergeWithLastSubmission: true });
      }
      ctx.respond = false;
      return;
    }
    if (ctx.path === '/__test__/last-token-request' && ctx.method === 'GET') {
      ctx.body = state.lastTokenRequest || {};
      return;
    }
    if (ctx.path === '/token') {
      const authorization = ctx.headers.authorization || '';
      state.lastTokenRequest = { clientAuthentication: authorization.toLowerCase().startsWith('basic ') ? 'basic' : 'body' };
    }
    if (ctx.path === '/token' && state.nextTokenClockShift) {
      const seconds = state.nextTokenClockShift;
      state.nextTokenClockShift = 0;
      await withShiftedClock(seconds, next);
      return;
    }
    await next();
  });

  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
