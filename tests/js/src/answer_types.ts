/**
 * The shape of each Rocket.Chat answer nbauth reads, by "METHOD /path": the response types of
 * @rocket.chat/rest-typings (`OperationResult<...>`) as JSON carries them (`Wire`, below), with
 * `success: true`, which the server's `API.v1.success` adds to every answer.
 *
 * tests/test_conformance_js.py writes each answer the sandbox gave nbauth into a generated file
 * as `const raw7 = <the JSON> as const; check<'GET /api/v1/rooms.get'>(raw7);` and runs
 * `tsc --strict` on it. `as const` keeps the JSON's literal types (so `"t": "c"` meets
 * `RoomType`), and passing a variable checks assignability without excess-property checks:
 * the server sends more fields than the types list (im.history's type picks 6 fields of each
 * message), so a field the types do not know is not an error; a missing required field, a
 * wrong type or a value outside a union or enum is.
 *
 * Where rest-typings disagrees with the server's own source, the type below follows the source
 * and says where; each such line is a finding about rest-typings, not about the sandbox.
 */
import type { IMeApiUser, IRoom } from '@rocket.chat/core-typings';
import type { OperationResult } from '@rocket.chat/rest-typings';

/**
 * A type as JSON carries it: dates as ISO strings, a string enum as its values, read-only.
 * core-typings' own `Serialized` (what the official client returns) cannot be used as it is:
 * it turns `unknown` into `null` (so `settings.preferences: Record<string, unknown>` would
 * only allow nulls) and keeps enums such as UserStatus, which no JSON string is assignable to.
 */
export type Wire<T> = unknown extends T
	? unknown
	: T extends Date
		? string
		: T extends string
			? `${T}`
			: T extends number | boolean | null | undefined
				? T
				: T extends readonly (infer U)[]
					? readonly Wire<U>[]
					: T extends object
						? { readonly [K in keyof T]: Wire<T[K]> }
						: never;

type Ok<T> = Wire<T & { success: true }>;

/** A room as the server sends it. A direct message has no owner `u`: createDirectRoom
 * (app/lib/server/functions/createDirectRoom.ts) inserts `t`, `usernames`, `uids`,
 * `usersCount`, `msgs` and `ts` only, while IRoom makes `u` required. */
type RoomAsSent = IRoom | (Omit<IRoom, 'u'> & { t: 'd'; u?: IRoom['u'] });

type RoomsGet = OperationResult<'GET', '/v1/rooms.get'>;
type RoomsInfo = OperationResult<'GET', '/v1/rooms.info'>;
type GroupsHistory = OperationResult<'GET', '/v1/groups.history'>;

export interface Answers {
	/** rest-typings types this answer `Record<string, any>`. The server's login route
	 * (ApiClass.ts, `_initAuth`) answers `{status, data: {userId, authToken, me}}`, `me` being
	 * getUserInfo(user): the body of GET /v1/me without `success`. */
	'POST /api/v1/login': Wire<{
		status: 'success';
		data: { userId: string; authToken: string; me: IMeApiUser };
	}>;
	/** rest-typings says `{message: string}`; the server's logout (ApiClass.ts) answers
	 * `{status: 'success', data: {message, extra?}}`, outside API.v1.success. */
	'POST /api/v1/logout': Wire<{ status: 'success'; data: { message: string; extra?: unknown } }>;
	'GET /api/v1/me': Ok<OperationResult<'GET', '/v1/me'>>;
	'GET /api/v1/statistics': Ok<OperationResult<'GET', '/v1/statistics'>>;
	'GET /api/v1/rooms.get': Ok<Omit<RoomsGet, 'update' | 'remove'> & { update: RoomAsSent[]; remove: RoomAsSent[] }>;
	'GET /api/v1/subscriptions.get': Ok<OperationResult<'GET', '/v1/subscriptions.get'>>;
	'GET /api/v1/rooms.info': Ok<Omit<RoomsInfo, 'room'> & { room: RoomAsSent | undefined }>;
	'GET /api/v1/channels.history': Ok<OperationResult<'GET', '/v1/channels.history'>>;
	/** rest-typings makes this a PaginatedResult (count, offset, total required); the server's
	 * own response schema for groups.history (groups.ts, groupsHistoryResponseSchema) is
	 * `{messages, firstUnread?, unreadNotLoaded?, success}` with no other property allowed. */
	'GET /api/v1/groups.history': Ok<Omit<GroupsHistory, 'count' | 'offset' | 'total'>>;
	'GET /api/v1/im.history': Ok<OperationResult<'GET', '/v1/im.history'>>;
}

/** `check<ROUTE>(answer)` compiles only if `answer` is an answer `ROUTE` may give. */
export function check<K extends keyof Answers>(answer: Answers[K]): Answers[K] {
	return answer;
}
