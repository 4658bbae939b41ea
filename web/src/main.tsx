import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router-dom';
import './i18n/index.js';
import { App } from './app.js';
import './styles.css';

// No <StrictMode>: it runs effects twice, and here a read is not free — every read of patient data is a
// logged access on the ledger, so a doubled request would put a doubled entry in the patient's access log.
createRoot(document.getElementById('root')!).render(
  <BrowserRouter>
    <App />
  </BrowserRouter>,
);
