/**
 * The identity provider's own pages: sign-in, consent, sign-out and errors. Server-rendered,
 * with no script at all, so they work before (and without) the web app, under the same CSP.
 */

/** Every string the identity pages show. */
export const pageStrings = {
  signInTitle: 'Sign in',
  signInLead: 'Sign in with your organisation account to use Confab.',
  signInFor: 'to continue to {client}',
  username: 'Username',
  password: 'Password',
  signIn: 'Sign in',
  wrongPassword: 'Wrong username or password.',
  missingFields: 'Enter your username and password.',
  tooMany: 'Too many sign-in attempts. Try again in {seconds} seconds.',
  directoryDown: 'The user directory does not answer right now. Try again in a moment.',
  consentTitle: 'Allow access',
  consentLead: '{client} asks to use your Confab account:',
  allow: 'Allow',
  cancel: 'Cancel',
  signOutTitle: 'Sign out',
  signOutLead: 'Do you want to sign out of Confab on this device?',
  signOut: 'Sign out',
  stay: 'Stay signed in',
  signedOutTitle: 'Signed out',
  signedOutLead: 'You have signed out of Confab.',
  backToApp: 'Back to Confab',
  errorTitle: 'Sign-in could not continue',
  errorLead: 'Something went wrong with this sign-in request. Start again from Confab.',
  expiredTitle: 'This sign-in page has expired',
  expiredLead: 'Sign-in pages are valid for a few minutes. Start again from Confab.',
  scope_openid: 'Know who you are',
  scope_profile: 'See your name',
  scope_email: 'See your mail address',
  scope_offline_access: 'Stay signed in',
  'scope_kopano/kwm': 'Make and receive calls',
  'scope_kopano/gc': 'Search the address book',
} as const;

export const staticCssPath = '/signin/v1/static/signin.css';

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fill(text: string, params: Record<string, string | number>): string {
  return text.replace(/\{(\w+)\}/g, (m, k: string) =>
    k in params ? escapeHtml(String(params[k])) : m,
  );
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${escapeHtml(title)} – Confab</title>
<link rel="icon" href="/meet/icons/confab.svg" type="image/svg+xml">
<link rel="stylesheet" href="${staticCssPath}">
</head>
<body>
<header class="bar"><span class="brand"><img src="/meet/icons/confab.svg" alt="" width="28" height="28"><span>Confab</span></span></header>
<main class="card">
${body}
</main>
</body>
</html>`;
}

export interface SignInPage {
  action: string;
  csrf: string;
  clientName?: string;
  username?: string;
  error?: string;
}

export function signInPage(p: SignInPage): string {
  const s = pageStrings;
  const error = p.error
    ? `<p class="error" role="alert" id="signin-error">${escapeHtml(p.error)}</p>`
    : '';
  const described = p.error ? ' aria-describedby="signin-error"' : '';
  const focusPassword = Boolean(p.username);
  return layout(
    s.signInTitle,
    `<h1>${s.signInTitle}</h1>
<p class="lead">${p.clientName ? fill(s.signInFor, { client: p.clientName }) : s.signInLead}</p>
${error}
<form method="post" action="${escapeHtml(p.action)}" autocomplete="on">
<input type="hidden" name="csrf" value="${escapeHtml(p.csrf)}">
<label for="username">${s.username}</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required maxlength="256" value="${escapeHtml(p.username ?? '')}"${focusPassword ? '' : ' autofocus'}${described}>
<label for="password">${s.password}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024"${focusPassword ? ' autofocus' : ''}${described}>
<button type="submit">${s.signIn}</button>
</form>`,
  );
}

export function consentPage(p: {
  action: string;
  csrf: string;
  clientName: string;
  scopes: string[];
}): string {
  const s = pageStrings;
  const items = p.scopes
    .map(
      (scope) => `<li>${escapeHtml((s as Record<string, string>)[`scope_${scope}`] ?? scope)}</li>`,
    )
    .join('');
  return layout(
    s.consentTitle,
    `<h1>${s.consentTitle}</h1>
<p class="lead">${fill(s.consentLead, { client: p.clientName })}</p>
<ul class="scopes">${items}</ul>
<form method="post" action="${escapeHtml(p.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(p.csrf)}">
<button type="submit" name="decision" value="allow">${s.allow}</button>
<button type="submit" name="decision" value="deny" class="secondary">${s.cancel}</button>
</form>`,
  );
}

/** `form` is oidc-provider's hidden logout form (`id="op.logoutForm"`), submitted by our buttons. */
export function signOutPage(form: string): string {
  const s = pageStrings;
  return layout(
    s.signOutTitle,
    `<h1>${s.signOutTitle}</h1>
<p class="lead">${s.signOutLead}</p>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>${s.signOut}</button>
<button type="submit" form="op.logoutForm" class="secondary">${s.stay}</button>`,
  );
}

export function signedOutPage(): string {
  const s = pageStrings;
  return layout(
    s.signedOutTitle,
    `<h1>${s.signedOutTitle}</h1><p class="lead">${s.signedOutLead}</p><p><a href="/meet/">${s.backToApp}</a></p>`,
  );
}

export function errorPage(kind: 'error' | 'expired', detail?: string): string {
  const s = pageStrings;
  const [title, lead] =
    kind === 'expired' ? [s.expiredTitle, s.expiredLead] : [s.errorTitle, s.errorLead];
  const extra = detail ? `<p class="detail">${escapeHtml(detail)}</p>` : '';
  return layout(
    title,
    `<h1>${title}</h1><p class="lead">${lead}</p>${extra}<p><a href="/meet/">${s.backToApp}</a></p>`,
  );
}

export const signInCss = `:root{--brand:#1f4e79;--bg:#f4f6f8;--fg:#1b1f24;--muted:#5a6270;--focus:#ffbf47;--danger:#b3261e;color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5;color:var(--fg);background:var(--bg)}
*{box-sizing:border-box}body{margin:0;min-height:100vh}
.bar{display:flex;align-items:center;padding:.5rem 1rem;background:var(--brand);color:#fff}
.brand{display:inline-flex;align-items:center;gap:.5rem;font-weight:600;font-size:1.15rem}
.card{max-width:24rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:.5rem;box-shadow:0 1px 3px rgba(0,0,0,.15)}
@media (max-width:30rem){.card{margin:0;border-radius:0;box-shadow:none;max-width:none}}
h1{font-size:1.4rem;margin:0 0 .5rem}.lead{color:var(--muted);margin:0 0 1rem}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input[type=text],input[type=password]{width:100%;font:inherit;padding:.5rem .6rem;border:1px solid #8a93a0;border-radius:.375rem}
button{font:inherit;width:100%;margin-top:1rem;padding:.6rem 1rem;border-radius:.375rem;border:1px solid var(--brand);background:var(--brand);color:#fff;cursor:pointer}
button.secondary{background:#fff;color:var(--brand);margin-top:.5rem}
.error{color:var(--danger);background:#fdecea;border-left:4px solid var(--danger);padding:.5rem .75rem;margin:0 0 .5rem}
.scopes{padding-left:1.25rem}.detail{color:var(--muted);font-size:.9rem}
a{color:var(--brand)}:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
`;
