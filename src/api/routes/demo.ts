import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { toBase64Url } from '../../crypto/index.js';
import { DEMO_INSTITUTIONS, demoGenesis, demoHandle, demoIdentity, type DemoPerson } from '../../demo/index.js';
import { CodedError } from '../../ledger/index.js';
import { sendError } from '../errors.js';
import { errorResponses } from '../schemas.js';

/**
 * DEMO ONLY. Registered only when the node runs the demo consortium (`medchain init --demo`): lists the demo
 * people and hands a browser the key of the demo person it signs in as, so the web application can show every
 * portal without key files. Demo keys are derived from public handles (src/demo/keys.ts) — anyone can compute
 * them — so this reveals nothing that is not already public; a real consortium never has such keys or this route.
 */
export function demoRoutes(app: FastifyInstance, people: readonly DemoPerson[]): void {
  const tags = ['demo'];
  const patients = people.map((p) => ({
    handle: demoHandle.patient(p.n),
    patientId: p.patientId,
    name: p.name,
    nameEn: p.nameEn,
    gender: p.gender,
    birthDate: p.birthDate,
    institutions: p.institutions,
  }));
  const staff = DEMO_INSTITUTIONS.flatMap((i) =>
    i.staff.map((s) => ({ handle: demoHandle.staff(i.id, s.id), name: s.name, institution: i.id, roles: s.roles })),
  );
  const handles = new Set([...patients.map((p) => p.handle), ...staff.map((s) => s.handle)]);

  app.get(
    '/v1/demo/people',
    { schema: { tags, summary: 'DEMO ONLY: the synthetic demo people one can sign in as in the web application' } },
    async () => ({
      demo: true,
      consortium: demoGenesis().consortium,
      institutions: DEMO_INSTITUTIONS.map((i) => ({ id: i.id, name: i.name, nameEn: i.nameEn, type: i.type })),
      patients,
      staff,
    }),
  );

  app.get(
    '/v1/demo/keys/:handle',
    {
      schema: {
        tags,
        summary: "DEMO ONLY: a demo person's key (derived from the public handle), for the web application's demo sign-in",
        params: Type.Object({ handle: Type.String({ maxLength: 128 }) }),
        response: { 200: Type.Object({ handle: Type.String(), did: Type.String(), signingSeed: Type.String(), agreementPrivateKey: Type.String() }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { handle } = request.params as { handle: string };
      if (!handles.has(handle)) return sendError(reply, new CodedError('NOT_FOUND', `no demo person ${handle}`));
      const identity = demoIdentity(handle);
      return { handle, did: identity.did, signingSeed: toBase64Url(identity.signing.seed), agreementPrivateKey: toBase64Url(identity.agreement.privateKey) };
    },
  );
}
