/**
 * Rocket.Chat's official REST client (@rocket.chat/api-client) against nbauth's sandbox.
 *
 * Reads `{"baseUrl": ..., "scenarios": [...]}` as JSON on stdin and prints one JSON object:
 * for each scenario the steps it took and what the client got back from each (the parsed
 * body, or the status and body the client rejected with). The Python test asserts on them.
 *
 * The calls go through `RestClient.get`/`post` with the parameter and result types of
 * @rocket.chat/rest-typings, so `tsc --strict` checks that each call is one the official types
 * allow. The person at the keyboard (the authenticator app, the mailbox) is the sandbox's
 * `/_sandbox/accounts` and `/_sandbox/email-codes` routes.
 */
import { RestClient } from '@rocket.chat/api-client';
import type { LoginProps } from '@rocket.chat/rest-typings';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Step {
	step: string;
	/** True when the client resolved (a 2xx answer), false when it rejected with a Response. */
	ok: boolean;
	status?: number;
	body: Json;
}

interface Input {
	baseUrl: string;
	scenarios: string[];
}

/** The longest the driver waits in all for Rocket.Chat's rate limiter before it gives up. */
const MAX_RATE_LIMIT_WAIT_MS = 30_000;
let rateLimitWaits = 0;
let rateLimitWaited = 0;

function client(baseUrl: string): RestClient {
	const rest = new RestClient({ baseUrl });
	// A 429 from the rate limiter (every REST route, 10 calls per route and window for a
	// non-admin): wait until X-RateLimit-Reset (epoch milliseconds), then send the request again.
	rest.use(async (context, next) => {
		for (;;) {
			try {
				return await next(...context);
			} catch (error) {
				if (!(error instanceof Response) || error.status !== 429) {
					throw error;
				}
				const reset = Number(error.headers.get('x-ratelimit-reset'));
				const wait = Number.isFinite(reset) && reset > 0 ? Math.max(reset - Date.now(), 0) + 50 : 1000;
				if (rateLimitWaited + wait > MAX_RATE_LIMIT_WAIT_MS) {
					throw error;
				}
				rateLimitWaits += 1;
				rateLimitWaited += wait;
				await new Promise((resolve) => setTimeout(resolve, wait));
			}
		}
	});
	return rest;
}

async function step(steps: Step[], name: string, call: () => Promise<unknown>): Promise<Step> {
	let done: Step;
	try {
		done = { step: name, ok: true, body: (await call()) as Json };
	} catch (error) {
		if (!(error instanceof Response)) {
			throw error;
		}
		const text = await error.text();
		let body: Json = text;
		try {
			body = JSON.parse(text) as Json;
		} catch {
			// not JSON: kept as text
		}
		done = { step: name, ok: false, status: error.status, body };
	}
	steps.push(done);
	return done;
}

async function sandbox(baseUrl: string, route: string): Promise<any> {
	const response = await fetch(`${baseUrl}/_sandbox/${route}`);
	if (!response.ok) {
		throw new Error(`sandbox ${route}: HTTP ${response.status}`);
	}
	return response.json();
}

async function password(baseUrl: string, username: string): Promise<string> {
	return (await sandbox(baseUrl, 'accounts')).users[username].password;
}

/** Logs in with the answer's userId and authToken; returns them. */
function signIn(rest: RestClient, login: Step): { userId: string; authToken: string } {
	const data = (login.body as any)?.data;
	if (!login.ok || typeof data?.userId !== 'string' || typeof data?.authToken !== 'string') {
		throw new Error(`${login.step}: no userId/authToken in ${JSON.stringify(login.body)}`);
	}
	rest.setCredentials({ 'X-User-Id': data.userId, 'X-Auth-Token': data.authToken });
	return { userId: data.userId, authToken: data.authToken };
}

const scenarios: Record<string, (baseUrl: string, steps: Step[]) => Promise<void>> = {
	/** alice: a wrong password (refused), the right one, me, a room's history in two pages,
	 * logout, and me again with the ended token (refused). */
	async password(baseUrl, steps) {
		const rest = client(baseUrl);
		await step(steps, 'login-wrong-password', () =>
			rest.post('/v1/login', { user: 'alice', password: 'not-her-password' }),
		);
		const login = await step(steps, 'login', async () =>
			rest.post('/v1/login', { user: 'alice', password: await password(baseUrl, 'alice') }),
		);
		signIn(rest, login);
		await step(steps, 'me', () => rest.get('/v1/me'));
		const info = await step(steps, 'rooms.info', () => rest.get('/v1/rooms.info', { roomName: 'general' }));
		const roomId = String((info.body as any)?.room?._id);
		await step(steps, 'channels.history', () => rest.get('/v1/channels.history', { roomId, count: 5 }));
		await step(steps, 'channels.history-offset', () =>
			rest.get('/v1/channels.history', { roomId, count: 5, offset: 5 }),
		);
		await step(steps, 'logout', () => rest.post('/v1/logout'));
		await step(steps, 'me-after-logout', () => rest.get('/v1/me'));
	},

	/** bob (TOTP): the login without a code is refused with totp-required; the code in the body
	 * (LoginProps.code) lets him in. */
	async totp(baseUrl, steps) {
		const rest = client(baseUrl);
		const secret = await password(baseUrl, 'bob');
		await step(steps, 'login-without-code', () => rest.post('/v1/login', { user: 'bob', password: secret }));
		const code: string = (await sandbox(baseUrl, 'accounts')).users.bob.totp;
		const login = await step(steps, 'login-with-code', () =>
			rest.post('/v1/login', { user: 'bob', password: secret, code }),
		);
		signIn(rest, login);
		await step(steps, 'me', () => rest.get('/v1/me'));
		await step(steps, 'logout', () => rest.post('/v1/logout'));
	},

	/** carol (e-mail 2FA): the first login e-mails a code; the second sends it in the
	 * x-2fa-code header, as the client's own two-factor retry does. */
	async email(baseUrl, steps) {
		const rest = client(baseUrl);
		const secret = await password(baseUrl, 'carol');
		await step(steps, 'login-without-code', () => rest.post('/v1/login', { user: 'carol', password: secret }));
		const code: string = (await sandbox(baseUrl, 'email-codes')).codes.carol;
		const login = await step(steps, 'login-with-code', () =>
			rest.post(
				'/v1/login',
				{ user: 'carol', password: secret },
				{ headers: { 'x-2fa-code': code, 'x-2fa-method': 'email' } },
			),
		);
		signIn(rest, login);
		await step(steps, 'me', () => rest.get('/v1/me'));
		await step(steps, 'logout', () => rest.post('/v1/logout'));
	},

	/** alice's token from a password login, used by a second client as a resume login; after
	 * that client logs out, the same resume is refused. */
	async resume(baseUrl, steps) {
		const first = client(baseUrl);
		const login = await step(steps, 'login', async () =>
			first.post('/v1/login', { user: 'alice', password: await password(baseUrl, 'alice') }),
		);
		const { authToken } = signIn(first, login);
		const second = client(baseUrl);
		// LoginProps has no `resume`, though the server's login route passes any body without
		// a password to Meteor's login handlers as it is (ApiClass.ts, loginCompatibility).
		const resume = { resume: authToken } as unknown as LoginProps;
		const resumed = await step(steps, 'resume', () => second.post('/v1/login', resume));
		signIn(second, resumed);
		await step(steps, 'me', () => second.get('/v1/me'));
		await step(steps, 'logout', () => second.post('/v1/logout'));
		await step(steps, 'resume-after-logout', () => client(baseUrl).post('/v1/login', resume));
	},
};

async function main(): Promise<void> {
	const chunks: Buffer[] = [];
	for await (const chunk of process.stdin) {
		chunks.push(chunk as Buffer);
	}
	const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Input;
	const results: Record<string, { steps: Step[]; error?: string }> = {};
	for (const name of input.scenarios) {
		const steps: Step[] = [];
		try {
			await scenarios[name](input.baseUrl, steps);
			results[name] = { steps };
		} catch (error) {
			results[name] = { steps, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
		}
	}
	process.stdout.write(JSON.stringify({ results, rateLimitWaits, rateLimitWaited }));
}

main().catch((error) => {
	process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
	process.exit(1);
});
