/**
 * The validators Rocket.Chat's server runs on what it receives (@rocket.chat/rest-typings:
 * ajv schemas the REST routes name in `validateParams` or `query`), and those it runs on its
 * own error answers, applied to what nbauth sent and received.
 *
 * Reads `[{"id": ..., "validator": NAME, "data": {...}}]` as JSON on stdin and prints
 * `[{"id": ..., "valid": bool, "errors": [...]}]`: `errors` is the validator's ajv `.errors`.
 */
import {
	isChannelsHistoryProps,
	isDmHistoryProps,
	isGroupsHistoryProps,
	isRoomsInfoProps,
	isStatisticsProps,
	isSubscriptionsGetProps,
	validateBadRequestErrorResponse,
	validateForbiddenErrorResponse,
	validateUnauthorizedErrorResponse,
} from '@rocket.chat/rest-typings';
import type { ValidateFunction } from 'ajv';

const VALIDATORS: Record<string, ValidateFunction<unknown>> = {
	isChannelsHistoryProps,
	isDmHistoryProps,
	isGroupsHistoryProps,
	isRoomsInfoProps,
	isStatisticsProps,
	isSubscriptionsGetProps,
	validateBadRequestErrorResponse,
	validateForbiddenErrorResponse,
	validateUnauthorizedErrorResponse,
};

interface Check {
	id: string;
	validator: string;
	data: unknown;
}

async function main(): Promise<void> {
	const chunks: Buffer[] = [];
	for await (const chunk of process.stdin) {
		chunks.push(chunk as Buffer);
	}
	const checks = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Check[];
	const results = checks.map(({ id, validator, data }) => {
		const validate = VALIDATORS[validator];
		if (validate === undefined) {
			return { id, valid: false, errors: [{ message: `no validator named ${validator}` }] };
		}
		const valid = validate(data);
		return { id, valid, errors: valid ? [] : (validate.errors ?? []) };
	});
	process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
	process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
	process.exit(1);
});
