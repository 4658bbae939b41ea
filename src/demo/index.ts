export { demoIdentity, DEMO_PATIENT_ID_SECRET, DEMO_PASSPHRASE } from './keys.js';
export { DEMO_INSTITUTIONS, DEMO_CHAIN_ID, demoGenesis, demoHandle, demoHostedInstitutions, type DemoInstitution } from './consortium.js';
export { demoPeople, type DemoPerson } from './people.js';
export { seedDemo, DemoActor } from './seed.js';
export { seedDemoRecords, writeDemoRecord, type DemoStories } from './seed-records.js';
export { type DemoOversightStories } from './seed-oversight.js';
export { demoClinicalRecords, type DemoClinicalRecord } from './clinical-records.js';
export { seedDemoDrugs, DEMO_PRODUCTS, DEMO_GLN, type DemoDrugStories } from './seed-drugs.js';
