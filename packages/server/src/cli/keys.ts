import { prepareDataDir } from '../dataDir.js';
import { SigningKeys } from '../identity/index.js';
import { type Command, dataOptions, dataOptionsHelp, helpOption } from './Command.js';
import { settingsFrom } from './settings.js';

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
    prepareDataDir(settings.data_dir);
    const keys = await SigningKeys.loadOrCreate(settings.data_dir);
    const grace = Math.max(settings.access_token_ttl, idTokenTtl) + 60;
    const fresh = await keys.rotate(grace);
    const until = new Date((Math.floor(Date.now() / 1000) + grace) * 1000).toISOString();
    process.stdout.write(`added ${fresh.map((k) => `${k.kid} (${k.alg})`).join(', ')}\n`);
    process.stdout.write(
      `old keys stay published until ${until}; restart confab serve to sign with the new ones\n`,
    );
  },
};
