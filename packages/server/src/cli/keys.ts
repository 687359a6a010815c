import { readFileSync } from 'node:fs';
import type { JWK } from 'jose';
import { stringify } from 'yaml';
import { generateEcPem, jwkFromPem, KeyFileError, kidFromFile } from '../common/index.js';
import { FatalError } from '../FatalError.js';
import { type Command, dataOptions, dataOptionsHelp, helpOption } from './Command.js';
import { settingsFrom, withDatabase } from './settings.js';

/** ID tokens live an hour; access tokens `access_token_ttl`. A minute more for clock skew. */
const idTokenTtl = 3600;

export const keysRotate: Command = {
  name: 'keys rotate',
  summary: 'Add new token signing keys and retire the current ones',
  usage: 'keys rotate',
  help: `Options:
${dataOptionsHelp}
  -h, --help          show this help

New keys sign tokens from the next start of confab serve. The old keys stay in the published
JWKS until every token they signed has expired, so nobody is signed out by a rotation.`,
  options: { ...helpOption, ...dataOptions },
  async run(values) {
    const settings = settingsFrom(values);
    const { SigningKeys } = await import('../identity/index.js');
    const grace = Math.max(settings.access_token_ttl, idTokenTtl) + 60;
    const fresh = await withDatabase(settings, async ({ secrets }) => {
      await SigningKeys.loadOrCreate(secrets);
      return SigningKeys.rotate(secrets, grace);
    });
    const until = new Date((Math.floor(Date.now() / 1000) + grace) * 1000).toISOString();
    process.stdout.write(`added ${fresh.map((k) => `${k.kid} (${k.alg})`).join(', ')}\n`);
    process.stdout.write(
      `old keys stay published until ${until}; restart confab serve to sign with the new ones\n`,
    );
  },
};

export const keysGenerate: Command = {
  name: 'keys generate',
  summary: 'Print a new EC P-256 private key (PEM) for signing guest request objects',
  usage: 'keys generate',
  help: `Options:
  -h, --help          show this help

Writes the key to standard output, e.g. confab keys generate > meet-kwmserver.pem (keep it
private). confab keys jwk-from-pem turns it into the JWK a client registry takes.`,
  options: { ...helpOption },
  async run() {
    process.stdout.write(generateEcPem());
  },
};

export const keysJwkFromPem: Command = {
  name: 'keys jwk-from-pem',
  summary: 'Print the JWK of an EC P-256 key file, for a client registry',
  usage: 'keys jwk-from-pem [--yaml] FILE.pem',
  help: `Options:
  --yaml              print YAML (for identifier-registration.yaml) instead of JSON
  -h, --help          show this help

The key id (kid) is the file name without its extension. A private key gives a private JWK
(with "d", for the server that signs guest logons); a public key (openssl ec -pubout) a public
one, which is all the identity provider needs.`,
  options: { ...helpOption, yaml: { type: 'boolean' } },
  positionals: ['FILE'],
  async run(values, [file]) {
    let pem: string;
    try {
      pem = readFileSync(file as string, 'utf8');
    } catch (err) {
      throw new FatalError(
        `confab: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    let jwk: JWK;
    try {
      jwk = await jwkFromPem(pem, kidFromFile(file as string));
    } catch (err) {
      if (err instanceof KeyFileError) throw new FatalError(`confab: ${file}: ${err.message}`);
      throw err;
    }
    // YAML 1.1 quotes the key "y" (a boolean there), as Konnect's output does.
    process.stdout.write(
      values.yaml ? stringify(jwk, { version: '1.1' }) : `${JSON.stringify(jwk, null, 2)}\n`,
    );
  },
};
