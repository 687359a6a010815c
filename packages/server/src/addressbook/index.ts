export { type AddressBookOptions, addressBookScope, registerAddressBook } from './AddressBook.js';
