/** The shape both HTTP-controlled detectors' command-line addresses share: `NAME=http(s)://HOST[:PORT][,key=value...]`. */

export interface AddressParts {
  name: string;
  url: URL;
  /** the URL as written (URL drops a scheme's default port) */
  urlText: string;
  options: { key: string; value: string | undefined }[];
  /** throws the flag's error naming the whole address, `why` and the usage */
  fail: (why: string) => never;
}

/**
 * Splits and checks the parts common to every such address; the caller checks its own options.
 * `flag` names the option in errors (`--dectris`), `what` the URL (`the detector URL`), `noPath` why a path is refused.
 */
export function splitAddress(text: string, flag: string, usage: string, what: string, noPath: string): AddressParts {
  const fail = (why: string): never => {
    throw new Error(`${flag} ${JSON.stringify(text)}: ${why}; ${usage}`);
  };
  const eq = text.indexOf('=');
  if (eq < 1) fail('no NAME=');
  const name = text.slice(0, eq).trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) fail(`detector name ${JSON.stringify(name)} may only hold letters, digits, _ . -`);
  const [urlText, ...rest] = text.slice(eq + 1).split(',').map((s) => s.trim());
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    return fail(`${JSON.stringify(urlText)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`${what} must be http:// or https://`);
  if (url.pathname !== '/' || url.search) fail(`${what} takes no path${noPath}`);
  const options = rest.map((opt) => {
    const [key, value] = opt.split('=', 2).map((s) => s?.trim());
    return { key, value };
  });
  return { name, url, urlText, options, fail };
}
