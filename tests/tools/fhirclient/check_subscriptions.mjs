// Creates, reads and deletes a Courier Subscription with fhir-kit-client, a FHIR client
// written elsewhere (npm). Run by ctest (subscriptions_fhirclient_tests) against a real
// `courier serve`; node must trust the test CA: NODE_EXTRA_CA_CERTS=<certs>/trusted/ca.crt.
//
//   node check_subscriptions.mjs <base https://127.0.0.1:<port>/fhir> <bearer token> <endpoint https://...>
//
// Exit 0 when every step held; otherwise 1 with the failed step on stderr.
import { Client } from 'fhir-kit-client';

const [base, token, endpoint] = process.argv.slice(2);
if (!base || !token || !endpoint) {
  console.error('usage: node check_subscriptions.mjs <fhir base url> <bearer token> <subscriber endpoint>');
  process.exit(2);
}

const TOPIC = 'http://courier.example/fhir/SubscriptionTopic/diagnosis';
const FILTER_URL = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria';
const FILTER = 'Condition?code=http://hl7.org/fhir/sid/icd-10-cm|C00-D49';
const PAYLOAD_URL = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content';

// The R4 backport shape, as tests/integration/subscriptions/subscriptions_serve_test.cc builds it.
const subscription = {
  resourceType: 'Subscription',
  status: 'requested',
  reason: 'cancer registry',
  criteria: TOPIC,
  _criteria: { extension: [{ url: FILTER_URL, valueString: FILTER }] },
  channel: {
    type: 'rest-hook',
    endpoint,
    payload: 'application/fhir+json',
    _payload: { extension: [{ url: PAYLOAD_URL, valueCode: 'id-only' }] },
  },
};

let step = 'start';
function check(cond, what, got) {
  if (!cond) throw new Error(`${what}${got === undefined ? '' : `; got ${JSON.stringify(got)}`}`);
}
const opts = () => ({ signal: AbortSignal.timeout(10000) });
const extValue = (el, url, key) => el?.extension?.find((e) => e.url === url)?.[key];

async function main() {
  const client = new Client({ baseUrl: base, bearerToken: token });

  step = 'capabilityStatement (GET metadata)';
  const cs = await client.capabilityStatement(opts());
  check(cs.resourceType === 'CapabilityStatement', 'resourceType is CapabilityStatement', cs.resourceType);
  check(/^4\.0/.test(cs.fhirVersion ?? ''), 'fhirVersion 4.0.x', cs.fhirVersion);

  step = 'search SubscriptionTopic';
  const topics = await client.search({ resourceType: 'SubscriptionTopic', options: opts() });
  check(topics.resourceType === 'Bundle', 'a Bundle of topics', topics.resourceType);
  check(Array.isArray(topics.entry) && topics.entry.length > 0, 'at least one topic entry');
  check(JSON.stringify(topics).includes(TOPIC), `the diagnosis topic ${TOPIC} is listed`);

  step = 'request SubscriptionTopic';
  const raw = await client.request('SubscriptionTopic', { options: opts() });
  check(raw.resourceType === 'Bundle' && JSON.stringify(raw).includes(TOPIC), 'request() sees the same topics');

  step = 'create Subscription without a token';
  const anon = new Client({ baseUrl: base });
  let status = 0;
  try {
    await anon.create({ resourceType: 'Subscription', body: subscription, options: opts() });
  } catch (e) {
    status = e.response?.status ?? 0;
    if (!status) throw e;
  }
  check(status === 401, 'no bearer token: 401', status);

  step = 'create Subscription';
  const created = await client.create({ resourceType: 'Subscription', body: subscription, options: opts() });
  const { response } = Client.httpFor(created);
  check(response?.status === 201, 'create answers 201', response?.status);
  check(created.resourceType === 'Subscription', 'create returns the Subscription', created.resourceType);
  const location = response.headers.get('location') ?? '';
  const id = created.id ?? location.split('/').filter(Boolean).pop();
  check(typeof id === 'string' && id.length > 0, 'the created Subscription has an id', created.id);
  check(location === '' || location.includes(`Subscription/${id}`), 'Location names the id', location);

  step = `read Subscription/${id}`;
  const read = await client.read({ resourceType: 'Subscription', id, options: opts() });
  check(read.resourceType === 'Subscription', 'resourceType', read.resourceType);
  check(read.id === id, 'id', read.id);
  check(read.status === 'active' || read.status === 'requested', 'status active or requested', read.status);
  check(read.criteria === TOPIC, 'criteria is the diagnosis topic', read.criteria);
  check(extValue(read._criteria, FILTER_URL, 'valueString') === FILTER, 'filter criteria', read._criteria);
  check(read.channel?.type === 'rest-hook', 'channel.type', read.channel?.type);
  check(read.channel?.endpoint === endpoint, 'channel.endpoint', read.channel?.endpoint);
  check(extValue(read.channel?._payload, PAYLOAD_URL, 'valueCode') === 'id-only', 'payload content id-only',
    read.channel?._payload);

  step = `delete Subscription/${id}`;
  await client.delete({ resourceType: 'Subscription', id, options: opts() });

  step = `read Subscription/${id} after delete`;
  status = 0;
  try {
    await client.read({ resourceType: 'Subscription', id, options: opts() });
  } catch (e) {
    status = e.response?.status ?? 0;
    if (!status) throw e;
  }
  check(status === 404, 'gone after delete: 404', status);

  console.log(`fhir-kit-client: metadata, SubscriptionTopic, create/read/delete Subscription/${id} ok`);
}

main().catch((e) => {
  const detail = e.response ? ` (HTTP ${e.response.status}: ${JSON.stringify(e.response.data)})` : '';
  const cause = e.cause ? ` [cause: ${e.cause.code ?? ''} ${e.cause.message ?? e.cause}]` : '';
  console.error(`check_subscriptions: FAILED at ${step}: ${e.message}${detail}${cause}`);
  process.exit(1);
});
